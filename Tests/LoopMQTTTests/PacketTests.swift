// The MQTT 3.1.1 codec against byte sequences written out from the standard (OASIS MQTT 3.1.1,
// sections 2.2.3 and 3.x): what the encoder writes, what the decoder accepts and rejects.

import LoopMQTT
import Testing

/// Encodes with `body` into a buffer of `capacity` bytes and returns what was written.
func encoded(
  capacity: Int = 256, _ body: (UnsafeMutableRawBufferPointer) throws(PacketError) -> Int
) throws -> [UInt8] {
  var out = [UInt8](repeating: 0xEE, count: capacity)
  let count = try out.withUnsafeMutableBytes { raw in try body(raw) }
  return Array(out[0..<count])
}

/// Finds and decodes the packet at the start of `bytes`.
func decoded(_ bytes: [UInt8], limit: Int = 1 << 20) throws -> Incoming? {
  try bytes.withUnsafeBytes { raw in
    guard let frame = try Packet.frame(raw, limit: limit), frame.length <= raw.count else { return nil }
    return try Packet.decode(frame, in: raw)
  }
}

func text(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Calls `body` with the bytes of each string.
func withBytes<R>(_ a: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
  try a.withUnsafeBytes { try body($0) }
}

@Suite struct PacketTests {
  @Test func connectWithEverything() throws {
    let id = text("sl"), user = text("u"), pass = text("pw"), topic = text("a/av"), off = text("offline")
    let bytes = try id.withUnsafeBytes { id in
      try user.withUnsafeBytes { user in
        try pass.withUnsafeBytes { pass in
          try topic.withUnsafeBytes { topic in
            try off.withUnsafeBytes { off in
              try encoded { (out) throws(PacketError) -> Int in
                try Packet.connect(
                  clientID: id, keepAliveSeconds: 60, cleanSession: true, username: user, password: pass,
                  will: Will(topic: topic, payload: off, qos: 1, retain: true), into: out)
              }
            }
          }
        }
      }
    }
    // Flags: username 0x80, password 0x40, will retain 0x20, will QoS 1 0x08, will 0x04, clean 0x02.
    let body: [UInt8] =
      [0, 4] + text("MQTT") + [4, 0xEE, 0, 60] + [0, 2] + id + [0, 4] + topic + [0, 7] + off + [0, 1] + user
      + [0, 2] + pass
    #expect(bytes == [0x10, UInt8(body.count)] + body)
  }

  @Test func connectMinimal() throws {
    let bytes = try withBytes(text("x")) { id in
      try encoded { (out) throws(PacketError) -> Int in
        try Packet.connect(
          clientID: id, keepAliveSeconds: 0, cleanSession: true, username: nil, password: nil, will: nil,
          into: out)
      }
    }
    #expect(bytes == [0x10, 13, 0, 4, 0x4D, 0x51, 0x54, 0x54, 4, 0x02, 0, 0, 0, 1, 0x78])
  }

  @Test func publishQoS0AndQoS1() throws {
    let q0 = try withBytes(text("a/b")) { topic in
      try withBytes(text("hi")) { payload in
        try encoded { (out) throws(PacketError) -> Int in
          try Packet.publish(topic: topic, payload: payload, qos: 0, retain: true, into: out)
        }
      }
    }
    #expect(q0 == [0x31, 7, 0, 3, 0x61, 0x2F, 0x62, 0x68, 0x69])
    let q1 = try withBytes(text("a/b")) { topic in
      try withBytes(text("hi")) { payload in
        try encoded { (out) throws(PacketError) -> Int in
          try Packet.publish(
            topic: topic, payload: payload, qos: 1, retain: false, dup: true, packetID: 0x0102, into: out)
        }
      }
    }
    #expect(q1 == [0x3A, 9, 0, 3, 0x61, 0x2F, 0x62, 1, 2, 0x68, 0x69])
    // Round trip through the decoder (a broker's PUBLISH has the same form).
    guard case .publish(let view) = try decoded(q1) else {
      Issue.record("not a publish")
      return
    }
    #expect(
      view
        == PublishView(
          qos: 1, retain: false, dup: true, packetID: 0x0102, topicOffset: 4, topicLength: 3,
          payloadOffset: 9, payloadLength: 2))
  }

  @Test func subscribePingDisconnectPuback() throws {
    let sub = try withBytes(text("c/#")) { filter in
      try encoded { (out) throws(PacketError) -> Int in
        try Packet.subscribe(packetID: 10, filter: filter, qos: 1, into: out)
      }
    }
    #expect(sub == [0x82, 8, 0, 10, 0, 3, 0x63, 0x2F, 0x23, 1])
    #expect(try encoded { (out) throws(PacketError) -> Int in try Packet.pingreq(into: out) } == [0xC0, 0])
    #expect(
      try encoded { (out) throws(PacketError) -> Int in try Packet.disconnect(into: out) } == [0xE0, 0])
    #expect(
      try encoded { (out) throws(PacketError) -> Int in try Packet.puback(packetID: 0xBEEF, into: out) } == [
        0x40, 2, 0xBE, 0xEF,
      ])
  }

  @Test func encoderNeverWritesPastTheBuffer() throws {
    // A 200-byte payload needs a two-byte remaining length; a buffer one byte short refuses it
    // whole and leaves every byte untouched.
    let payload = [UInt8](repeating: 0x41, count: 200)
    let whole = try withBytes(text("t")) { topic in
      try withBytes(payload) { p in
        try encoded(capacity: 300) { (out) throws(PacketError) -> Int in
          try Packet.publish(topic: topic, payload: p, qos: 0, retain: false, into: out)
        }
      }
    }
    #expect(whole.count == 1 + 2 + 2 + 1 + 200)
    #expect(Array(whole[0..<3]) == [0x30, 0xCB, 0x01])
    var short = [UInt8](repeating: 0xEE, count: whole.count - 1)
    let error = withBytes(text("t")) { topic in
      withBytes(payload) { p in
        short.withUnsafeMutableBytes { out in
          #expect(throws: PacketError.noRoom) {
            try Packet.publish(topic: topic, payload: p, qos: 0, retain: false, into: out)
          }
        }
      }
    }
    _ = error
    #expect(short.allSatisfy { $0 == 0xEE })
  }

  @Test func remainingLengthBoundaries() throws {
    // MQTT 3.1.1 §2.2.3's table: 127 | 128 | 16,383 | 16,384 | 2,097,151 | 2,097,152 | 268,435,455.
    let cases: [(Int, [UInt8])] = [
      (0, [0x00]), (127, [0x7F]), (128, [0x80, 0x01]), (16_383, [0xFF, 0x7F]), (16_384, [0x80, 0x80, 0x01]),
      (2_097_151, [0xFF, 0xFF, 0x7F]), (2_097_152, [0x80, 0x80, 0x80, 0x01]),
      (268_435_455, [0xFF, 0xFF, 0xFF, 0x7F]),
    ]
    for (value, varint) in cases {
      let frame = try ([0x30] + varint).withUnsafeBytes { try Packet.frame($0, limit: Int.max) }
      #expect(frame == Frame(header: 0x30, headerLength: 1 + varint.count, remainingLength: value))
      #expect(Packet.varintLength(value) == varint.count)
    }
  }

  @Test func malformedLengthsAreRejected() throws {
    // Five length bytes: malformed, whatever follows; a partial varint is "need more bytes".
    #expect(throws: PacketError.malformedLength) {
      try ([0x30, 0x80, 0x80, 0x80, 0x80, 0x01] as [UInt8]).withUnsafeBytes {
        try Packet.frame($0, limit: Int.max)
      }
    }
    #expect(throws: PacketError.malformedLength) {
      try ([0x30, 0xFF, 0xFF, 0xFF, 0xFF] as [UInt8]).withUnsafeBytes { try Packet.frame($0, limit: Int.max) }
    }
    #expect(
      try ([0x30, 0x80, 0x80] as [UInt8]).withUnsafeBytes { try Packet.frame($0, limit: Int.max) } == nil)
    #expect(try ([0x30] as [UInt8]).withUnsafeBytes { try Packet.frame($0, limit: Int.max) } == nil)
    // Longer than the caller's limit.
    #expect(throws: PacketError.tooLarge) {
      try ([0x30, 0x80, 0x01] as [UInt8]).withUnsafeBytes { try Packet.frame($0, limit: 130) }
    }
  }

  @Test func brokerPacketsDecode() throws {
    #expect(try decoded([0x20, 2, 0, 0]) == .connack(sessionPresent: false, returnCode: 0))
    #expect(try decoded([0x20, 2, 1, 5]) == .connack(sessionPresent: true, returnCode: 5))
    #expect(try decoded([0x40, 2, 0x12, 0x34]) == .puback(packetID: 0x1234))
    #expect(try decoded([0x90, 4, 0, 7, 1, 0x80]) == .suback(packetID: 7, codes: 2, failures: 1, first: 1))
    #expect(try decoded([0xB0, 2, 0, 9]) == .unsuback(packetID: 9))
    #expect(try decoded([0xD0, 0]) == .pingresp)
    // A QoS 0 PUBLISH with an empty payload.
    #expect(
      try decoded([0x30, 3, 0, 1, 0x74])
        == .publish(
          PublishView(
            qos: 0, retain: false, dup: false, packetID: 0, topicOffset: 4, topicLength: 1, payloadOffset: 5,
            payloadLength: 0)))
  }

  @Test func malformedBodiesAreRejected() throws {
    let malformed: [[UInt8]] = [
      [0x20, 3, 0, 0, 0],  // CONNACK of 3 bytes
      [0x20, 2, 2, 0],  // CONNACK reserved flag bit
      [0x21, 2, 0, 0],  // CONNACK with header flags
      [0x40, 3, 0, 1, 0],  // PUBACK of 3 bytes
      [0xD0, 1, 0],  // PINGRESP with a body
      [0x90, 2, 0, 1],  // SUBACK without codes
      [0x90, 3, 0, 1, 3],  // SUBACK code 3
      [0x36, 5, 0, 1, 0x74, 0, 1],  // PUBLISH QoS 3
      [0x38, 3, 0, 1, 0x74],  // PUBLISH QoS 0 with DUP
      [0x30, 3, 0, 5, 0x74],  // topic runs past the end
      [0x30, 2, 0, 0],  // empty topic
      [0x32, 3, 0, 1, 0x74],  // QoS 1 without a packet id
      [0x32, 5, 0, 1, 0x74, 0, 0],  // QoS 1 with packet id 0
    ]
    for bytes in malformed {
      #expect(throws: PacketError.malformed, "\(bytes)") { try decoded(bytes) }
    }
    let unsupported: [[UInt8]] = [
      [0x34, 5, 0, 1, 0x74, 0, 1],  // PUBLISH QoS 2
      [0x50, 2, 0, 1],  // PUBREC
      [0x10, 0],  // CONNECT
      [0xC0, 0],  // PINGREQ
      [0x00, 0],  // type 0
      [0xF0, 0],  // type 15
    ]
    for bytes in unsupported {
      #expect(throws: PacketError.unsupported, "\(bytes)") { try decoded(bytes) }
    }
  }
}
