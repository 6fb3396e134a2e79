// A broker that sends QoS 1 messages while it reads nothing: the client's send buffer is full,
// so the PUBACKs it owes cannot be queued when the messages arrive. They wait and go out, in the
// order the messages came, once the broker reads again. Before they waited, each was dropped
// unseen: mosquitto kept those messages in flight for the session, and once its in-flight limit
// (20 by default) was reached it sent the board no more commands until a reconnect.
//
// The broker is scripted here on a plain socket (mosquitto cannot be made to send while it does
// not read), on the test's thread between slices of the loop.

import Foundation
import HostTestSupport
import LoopCore
import LoopLinux
import LoopMQTT
import Testing

/// The broker's end: a listening socket with a small receive buffer, its one accepted
/// connection, and the packets read from it.
final class ScriptedBroker {
  let listener: Int32
  let port: UInt16
  var connection: Int32 = -1
  /// Bytes read and not yet split into packets.
  private var pending: [UInt8] = []

  init() throws {
    listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    // Accepted sockets inherit it: the client's bytes back up after a few KiB.
    var small: Int32 = 4096
    setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let fd = listener
    let ok = withUnsafeMutablePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
        bind(fd, a, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, a, &length) == 0
      }
    }
    port = UInt16(bigEndian: address.sin_port)
    if !ok { throw MQTTTestFailure("no listener") }
    _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
  }

  deinit {
    if connection >= 0 { close(connection) }
    close(listener)
  }

  /// Accepts the client's connection if it has come (non-blocking).
  func accept() -> Bool {
    if connection >= 0 { return true }
    let fd = Foundation.accept(listener, nil, nil)
    guard fd >= 0 else { return false }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    connection = fd
    return true
  }

  /// Reads what has arrived and returns the whole packets in it (first byte, body).
  func readPackets() -> [(UInt8, [UInt8])] {
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
      let n = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
      if n <= 0 { break }
      pending += buffer[0..<n]
    }
    var packets: [(UInt8, [UInt8])] = []
    while pending.count >= 2 {
      var length = 0
      var multiplier = 1
      var at = 1
      var complete = false
      while at < pending.count && at <= 4 {
        length += Int(pending[at] & 0x7F) * multiplier
        multiplier *= 128
        at += 1
        if pending[at - 1] & 0x80 == 0 {
          complete = true
          break
        }
      }
      guard complete, pending.count >= at + length else { break }
      packets.append((pending[0], Array(pending[at..<(at + length)])))
      pending.removeFirst(at + length)
    }
    return packets
  }

  /// Writes `bytes` (the client reads everything, so it all goes).
  func send(_ bytes: [UInt8]) {
    var at = 0
    while at < bytes.count {
      let n = bytes[at...].withUnsafeBytes { Foundation.send(connection, $0.baseAddress, $0.count, 0) }
      if n > 0 { at += n } else { usleep(1_000) }
    }
  }

  /// A QoS 1 PUBLISH on `topic` with packet id `id`.
  static func publishQoS1(_ topic: String, id: UInt16, payload: String) -> [UInt8] {
    let t = Array(topic.utf8)
    let body =
      [UInt8(t.count >> 8), UInt8(t.count & 0xFF)] + t + [UInt8(id >> 8), UInt8(id & 0xFF)]
      + Array(payload.utf8)
    precondition(body.count < 128)
    return [0x32, UInt8(body.count)] + body
  }
}

@Suite(.serialized) struct AckBackpressureTests {
  @Test func acknowledgementsWaitForRoomAndGoOutInOrder() throws {
    let broker = try ScriptedBroker()
    let address = try #require(SocketAddress.parse("127.0.0.1", port: broker.port))
    var loop = try Loop(
      try makeClient(address, id: "sl-acks", keepAlive: 0) { $0.sendBufferBytes = 4_096 })
    // Connect: CONNECT in, CONNACK out.
    #expect(loop.run(upTo: 10) { _ in broker.accept() })
    var connect: [(UInt8, [UInt8])] = []
    #expect(
      loop.run(upTo: 10) { _ in
        connect += broker.readPackets()
        return !connect.isEmpty
      })
    #expect(connect.first?.0 == 0x10)
    broker.send([0x20, 0x02, 0x00, 0x00])
    #expect(loop.run { $0.client.phase == .connected })

    // The broker reads nothing from now on: publish until the client's send buffer is full.
    let payload = String(repeating: "x", count: 1_000)
    var rounds = 0
    while loop.world.client.counters.droppedSendBufferFull == 0 && rounds < 20_000 {
      for _ in 0..<4 { _ = loop.publish("sl/acks/fill", payload, qos: 0) }
      loop.run(milliseconds: 1)
      rounds += 1
    }
    #expect(loop.world.client.counters.droppedSendBufferFull > 0, "no drop after \(rounds) rounds")
    // Then the last of its room, with one message of just that size (a PUBACK is 4 bytes; the
    // smallest PUBLISH 5, so 1 to 4 bytes may stay free and take at most one PUBACK).
    let free = 4_096 - loop.world.client.pendingSendBytes
    if free >= 5 {
      let headerBytes = free - 5 < 126 ? 2 : 3
      let filler = String(repeating: "y", count: free - headerBytes - 3)
      #expect(loop.publish("a", filler, qos: 0) == .accepted)
      loop.run(milliseconds: 5)
    }
    let room = 4_096 - loop.world.client.pendingSendBytes
    #expect(room < 5, "\(room) bytes free")

    // Five QoS 1 commands arrive: their PUBACKs find no room.
    let ids: [UInt16] = [7, 8, 9, 300, 11]
    for id in ids { broker.send(ScriptedBroker.publishQoS1("sl/acks/cmd", id: id, payload: "on")) }
    #expect(loop.run { $0.client.counters.received == UInt64(ids.count) })
    loop.run(milliseconds: 20)
    var c = loop.world.client.counters
    #expect(c.acksDelayed >= UInt64(room < 4 ? ids.count : ids.count - 1), "\(c)")
    #expect(c.acksLost == 0)

    // The broker reads again: every PUBACK arrives, in the order of the messages.
    var acked: [UInt16] = []
    #expect(
      loop.run(upTo: 20) { _ in
        for (first, body) in broker.readPackets() where first == 0x40 && body.count == 2 {
          acked.append(UInt16(body[0]) << 8 | UInt16(body[1]))
        }
        return acked.count >= ids.count
      }, "PUBACKs seen: \(acked)")
    #expect(acked == ids)
    c = loop.world.client.counters
    #expect(c.connections == 1 && c.connectionsLost == 0 && c.acksLost == 0)
  }
}
