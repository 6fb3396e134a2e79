// libFuzzer target: the MQTT 3.1.1 packet decoder (Sources/LoopMQTT/Packet.swift) over arbitrary
// bytes, as the client meets them in its receive buffer: a stream of packets from a broker.
//
// Input layout: byte 0 sets the receive buffer's size (the decoder's limit): 16 << (byte % 12)
// bytes (16 B to 32 KiB); the rest is the byte stream. The target walks it as the client does:
// `Packet.frame` at the current position (nil: the stream ends inside a fixed header; a throw:
// malformed or too large, the client drops the connection, the walk ends), then `Packet.decode`
// once the whole packet is there (a throw ends the walk too). After every decoded packet:
//
//   the frame fits the limit, its header is 2 to 5 bytes, its remaining length at most 268,435,455
//   a PUBLISH's topic and payload lie inside the packet, the payload runs to its end, QoS <= 1,
//   no DUP at QoS 0, a QoS 1 packet id is not 0
//   re-encoding what was decoded (PUBLISH, PUBACK) gives the same bytes when the remaining
//   length was encoded in the fewest bytes (MQTT allows only that, but a broker's extra zero
//   groups are accepted, so that case is not compared)
//   the decoder allocated nothing (AllocCounter, through ASan's allocator hook)

import AllocCounter
import Glibc
import LoopMQTT

@inline(never)
func check(_ condition: Bool, _ message: StaticString) {
  if !condition { fatalError("\(message)") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  check(sl_alloc_counter_active() != 0, "the allocation counter is not active")
  if size < 1 { return 0 }
  let limit = 16 << Int(data[0] % 12)
  let stream = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
  // Room to re-encode the largest packet the limit lets through.
  let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: limit + 8, alignment: 1)
  defer { scratch.deallocate() }

  var at = 0
  while at < stream.count {
    let rest = UnsafeRawBufferPointer(rebasing: stream[at...])
    let before = sl_alloc_count_thread()
    let frame: Frame?
    do { frame = try Packet.frame(rest, limit: limit) } catch { break }
    guard let frame else { break }
    check(frame.length <= limit, "frame longer than the limit")
    check(frame.headerLength >= 2 && frame.headerLength <= 5, "fixed header of a wrong size")
    check(frame.remainingLength <= Packet.maximumRemainingLength, "remaining length too large")
    if frame.length > rest.count { break }  // the rest of the packet has not arrived
    let packet = UnsafeRawBufferPointer(rebasing: rest[0..<frame.length])
    let incoming: Incoming
    do { incoming = try Packet.decode(frame, in: packet) } catch { break }
    check(sl_alloc_count_thread() == before, "the decoder allocated")
    let minimal = frame.headerLength == 1 + Packet.varintLength(frame.remainingLength)

    switch incoming {
    case .publish(let p):
      check(p.qos <= 1, "QoS above 1")
      check(!(p.qos == 0 && p.dup), "DUP at QoS 0")
      check(p.qos == 0 || p.packetID != 0, "QoS 1 with packet id 0")
      check(p.topicLength > 0 && p.topicOffset == frame.headerLength + 2, "topic misplaced")
      check(p.topicOffset + p.topicLength <= p.payloadOffset, "topic overlaps the payload")
      check(p.payloadOffset + p.payloadLength == frame.length, "payload does not end the packet")
      if minimal {
        let topic = UnsafeRawBufferPointer(rebasing: packet[p.topicOffset..<(p.topicOffset + p.topicLength)])
        let payload = UnsafeRawBufferPointer(
          rebasing: packet[p.payloadOffset..<(p.payloadOffset + p.payloadLength)])
        let written: Int
        do {
          written = try Packet.publish(
            topic: topic, payload: payload, qos: p.qos, retain: p.retain, dup: p.dup, packetID: p.packetID,
            into: scratch)
        } catch {
          fatalError("a decoded PUBLISH does not encode")
        }
        check(written == frame.length, "re-encoded PUBLISH has another length")
        check(memcmp(scratch.baseAddress!, packet.baseAddress!, written) == 0, "re-encoded PUBLISH differs")
      }
    case .puback(let id):
      let written: Int
      do { written = try Packet.puback(packetID: id, into: scratch) } catch {
        fatalError("PUBACK does not encode")
      }
      check(
        !minimal || memcmp(scratch.baseAddress!, packet.baseAddress!, written) == 0,
        "re-encoded PUBACK differs")
    case .connack(_, _), .unsuback, .pingresp:
      check(frame.remainingLength <= 2, "a fixed-size packet of another size")
    case .suback(_, let codes, let failures, _):
      check(codes == frame.remainingLength - 2 && codes >= 1 && failures <= codes, "SUBACK counts")
    }
    at += frame.length
  }
  return 0
}
