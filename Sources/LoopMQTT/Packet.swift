// MQTT 3.1.1 packets (OASIS standard, 2014), encoded into and decoded from buffers the caller
// owns: nothing here allocates, holds state or touches the system. The client (Client.swift)
// encodes what it sends straight into its send buffer and decodes what the broker sends in place
// in its receive buffer.
//
// Every packet is a fixed header (a type-and-flags byte, then the remaining length as a base-128
// varint of one to four bytes, low group first, bit 7 "more follows") and a body of that length.
// Encoded here: CONNECT (clean session, keepalive, username, password, last will), PUBLISH
// (QoS 0 and 1, DUP, RETAIN), PUBACK, SUBSCRIBE (one filter), PINGREQ, DISCONNECT.
// Decoded here, as a client receives them: CONNACK, PUBLISH (QoS 0 and 1), PUBACK, SUBACK,
// UNSUBACK, PINGRESP. Anything else from a broker (QoS 2's PUBREC/PUBREL/PUBCOMP, which the
// client never asks for; a client-to-server type) is `unsupported`; a body that does not match
// its type (a wrong length, reserved flag bits set, a topic running past the end, QoS 3) is
// `malformed`; a remaining length longer than four bytes is `malformedLength`.

/// Why a packet could not be encoded or decoded.
public enum PacketError: Error, Equatable, Sendable {
  /// Encoding: the packet does not fit in the buffer given.
  case noRoom
  /// Encoding: a string or payload is longer than MQTT allows (65,535 bytes for a string,
  /// 268,435,455 for a whole packet).
  case tooLong
  /// Decoding: the remaining length takes more than four bytes (MQTT 3.1.1 §2.2.3).
  case malformedLength
  /// Decoding: the packet is longer than the caller's limit (its receive buffer).
  case tooLarge
  /// Decoding: the body does not match the packet type.
  case malformed
  /// Decoding: a type a client does not accept from a broker.
  case unsupported
}

/// MQTT control packet types (the high four bits of the first byte).
public enum PacketType: UInt8, Sendable {
  case connect = 1, connack, publish, puback, pubrec, pubrel, pubcomp, subscribe, suback
  case unsubscribe, unsuback, pingreq, pingresp, disconnect
}

/// Where a packet lies in a buffer: found by `Packet.frame`, before its body is decoded.
public struct Frame: Equatable, Sendable {
  /// The first byte: type (high four bits) and flags (low four).
  public var header: UInt8
  /// Bytes of the fixed header: 1 + the varint's length (2 to 5).
  public var headerLength: Int
  /// The body's length (the remaining length).
  public var remainingLength: Int

  /// The whole packet's length.
  public var length: Int { headerLength + remainingLength }

  /// A frame of these parts.
  public init(header: UInt8, headerLength: Int, remainingLength: Int) {
    self.header = header
    self.headerLength = headerLength
    self.remainingLength = remainingLength
  }
}

/// A PUBLISH as decoded: flags, packet id, and where topic and payload lie in the bytes decoded.
public struct PublishView: Equatable, Sendable {
  /// 0 or 1.
  public var qos: UInt8
  /// RETAIN: the broker sent a retained message (to a new subscription).
  public var retain: Bool
  /// DUP: a redelivery.
  public var dup: Bool
  /// The packet id (QoS 1), else 0.
  public var packetID: UInt16
  /// The topic's offset and length in the bytes given to `Packet.decode`.
  public var topicOffset: Int
  /// The topic's length.
  public var topicLength: Int
  /// The payload's offset in the bytes given to `Packet.decode`.
  public var payloadOffset: Int
  /// The payload's length.
  public var payloadLength: Int

  /// A view of these parts.
  public init(
    qos: UInt8, retain: Bool, dup: Bool, packetID: UInt16, topicOffset: Int, topicLength: Int,
    payloadOffset: Int,
    payloadLength: Int
  ) {
    self.qos = qos
    self.retain = retain
    self.dup = dup
    self.packetID = packetID
    self.topicOffset = topicOffset
    self.topicLength = topicLength
    self.payloadOffset = payloadOffset
    self.payloadLength = payloadLength
  }
}

/// A packet a client receives, decoded.
public enum Incoming: Equatable, Sendable {
  /// CONNACK: session present, return code (0 accepted, 1-5 refused: protocol version,
  /// identifier, server unavailable, bad user name or password, not authorised).
  case connack(sessionPresent: Bool, returnCode: UInt8)
  /// PUBLISH from the broker.
  case publish(PublishView)
  /// PUBACK for a QoS 1 PUBLISH the client sent.
  case puback(packetID: UInt16)
  /// SUBACK: the packet id, the number of return codes, how many of them are 0x80 (failure),
  /// and the first code (the granted QoS of a one-filter SUBSCRIBE).
  case suback(packetID: UInt16, codes: Int, failures: Int, first: UInt8)
  /// UNSUBACK.
  case unsuback(packetID: UInt16)
  /// PINGRESP.
  case pingresp
}

/// The last will: what the broker publishes when the client goes away without a DISCONNECT.
public struct Will {
  /// The topic.
  public var topic: UnsafeRawBufferPointer
  /// The message.
  public var payload: UnsafeRawBufferPointer
  /// 0 or 1.
  public var qos: UInt8
  /// Whether the broker keeps it as the topic's retained message.
  public var retain: Bool

  /// A will of `payload` on `topic`.
  public init(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, qos: UInt8, retain: Bool) {
    self.topic = topic
    self.payload = payload
    self.qos = qos
    self.retain = retain
  }
}

/// Encoding and decoding. Every function works on the caller's bytes only.
public enum Packet {
  /// The longest remaining length a four-byte varint can say.
  public static let maximumRemainingLength = 268_435_455

  // MARK: Decoding

  /// The frame of the packet at the start of `bytes`, or nil when `bytes` does not hold its
  /// fixed header yet. The body may not be complete: compare `length` with `bytes.count`.
  ///
  /// Throws `.malformedLength` for a varint of more than four bytes (whatever follows) and
  /// `.tooLarge` when the whole packet would be longer than `limit`.
  public static func frame(_ bytes: UnsafeRawBufferPointer, limit: Int) throws(PacketError) -> Frame? {
    if bytes.count < 2 { return nil }
    var value = 0
    var shift = 0
    var index = 1
    while true {
      if index > 4 { throw .malformedLength }
      if index >= bytes.count { return nil }
      let byte = bytes[index]
      value |= Int(byte & 0x7F) << shift
      index += 1
      if byte & 0x80 == 0 { break }
      shift += 7
    }
    if index + value > limit { throw .tooLarge }
    return Frame(header: bytes[0], headerLength: index, remainingLength: value)
  }

  /// Decodes the complete packet `frame` found at the start of `bytes`.
  ///
  /// `bytes.count` must be at least `frame.length` (a programmer error otherwise). Offsets in
  /// a `PublishView` are into `bytes`.
  public static func decode(_ frame: Frame, in bytes: UnsafeRawBufferPointer) throws(PacketError) -> Incoming
  {
    precondition(bytes.count >= frame.length, "Packet.decode: the packet is not complete")
    let body = frame.headerLength
    let length = frame.remainingLength
    let flags = frame.header & 0x0F
    guard let type = PacketType(rawValue: frame.header >> 4) else { throw .unsupported }
    switch type {
    case .connack:
      guard flags == 0, length == 2, bytes[body] & 0xFE == 0 else { throw .malformed }
      return .connack(sessionPresent: bytes[body] & 1 != 0, returnCode: bytes[body + 1])
    case .puback, .unsuback:
      guard flags == 0, length == 2 else { throw .malformed }
      let id = UInt16(bytes[body]) << 8 | UInt16(bytes[body + 1])
      return type == .puback ? .puback(packetID: id) : .unsuback(packetID: id)
    case .pingresp:
      guard flags == 0, length == 0 else { throw .malformed }
      return .pingresp
    case .suback:
      guard flags == 0, length >= 3 else { throw .malformed }
      let id = UInt16(bytes[body]) << 8 | UInt16(bytes[body + 1])
      var failures = 0
      for i in (body + 2)..<(body + length) {
        let code = bytes[i]
        if code == 0x80 {
          failures += 1
        } else if code > 2 {
          throw .malformed
        }
      }
      return .suback(packetID: id, codes: length - 2, failures: failures, first: bytes[body + 2])
    case .publish:
      let qos = (flags >> 1) & 3
      if qos > 1 {
        // QoS 2 is never subscribed to; QoS 3 does not exist.
        if qos == 3 { throw .malformed }
        throw .unsupported
      }
      let dup = flags & 0x08 != 0
      if qos == 0 && dup { throw .malformed }
      guard length >= 2 else { throw .malformed }
      let topicLength = Int(bytes[body]) << 8 | Int(bytes[body + 1])
      var at = body + 2 + topicLength
      guard topicLength > 0, at <= body + length else { throw .malformed }
      var id: UInt16 = 0
      if qos == 1 {
        guard at + 2 <= body + length else { throw .malformed }
        id = UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
        if id == 0 { throw .malformed }
        at += 2
      }
      return .publish(
        PublishView(
          qos: qos, retain: flags & 1 != 0, dup: dup, packetID: id, topicOffset: body + 2,
          topicLength: topicLength, payloadOffset: at, payloadLength: body + length - at))
    case .connect, .pubrec, .pubrel, .pubcomp, .subscribe, .unsubscribe, .pingreq, .disconnect:
      throw .unsupported
    }
  }

  // MARK: Encoding

  /// CONNECT, protocol level 4 (3.1.1). A nil `username` or `password` leaves it out (a
  /// password needs a username, as MQTT 3.1.1 requires). Returns the bytes written.
  public static func connect(
    clientID: UnsafeRawBufferPointer, keepAliveSeconds: UInt16, cleanSession: Bool,
    username: UnsafeRawBufferPointer?, password: UnsafeRawBufferPointer?, will: Will?,
    into out: UnsafeMutableRawBufferPointer
  ) throws(PacketError) -> Int {
    if password != nil && username == nil { throw .malformed }
    var remaining = 10 + 2 + clientID.count
    if let will { remaining += 4 + will.topic.count + will.payload.count }
    if let username { remaining += 2 + username.count }
    if let password { remaining += 2 + password.count }
    var flags: UInt8 = cleanSession ? 0x02 : 0
    if let will { flags |= 0x04 | (will.qos & 3) << 3 | (will.retain ? 0x20 : 0) }
    if username != nil { flags |= 0x80 }
    if password != nil { flags |= 0x40 }
    var w = try Writer(out, header: PacketType.connect.rawValue << 4, remaining: remaining)
    try w.string(protocolName)
    try w.byte(4)
    try w.byte(flags)
    try w.u16(keepAliveSeconds)
    try w.string(clientID)
    if let will {
      try w.string(will.topic)
      try w.string(will.payload)
    }
    if let username { try w.string(username) }
    if let password { try w.string(password) }
    return w.finish()
  }

  /// PUBLISH of `payload` on `topic`; `packetID` is used (and must be non-zero) at QoS 1 only.
  /// Returns the bytes written.
  @inline(never)
  public static func publish(
    topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, qos: UInt8, retain: Bool,
    dup: Bool = false, packetID: UInt16 = 0, into out: UnsafeMutableRawBufferPointer
  ) throws(PacketError) -> Int {
    if qos > 1 || (qos == 1 && packetID == 0) || (qos == 0 && dup) || topic.count == 0 {
      throw .malformed
    }
    let remaining = 2 + topic.count + (qos == 1 ? 2 : 0) + payload.count
    let header = PacketType.publish.rawValue << 4 | (dup ? 0x08 : 0) | qos << 1 | (retain ? 1 : 0)
    var w = try Writer(out, header: header, remaining: remaining)
    try w.string(topic)
    if qos == 1 { try w.u16(packetID) }
    try w.bytes(payload)
    return w.finish()
  }

  /// PUBACK for `packetID`. Returns 4.
  public static func puback(packetID: UInt16, into out: UnsafeMutableRawBufferPointer) throws(PacketError)
    -> Int
  {
    var w = try Writer(out, header: PacketType.puback.rawValue << 4, remaining: 2)
    try w.u16(packetID)
    return w.finish()
  }

  /// SUBSCRIBE to one topic filter at `qos` (0 or 1). Returns the bytes written.
  public static func subscribe(
    packetID: UInt16, filter: UnsafeRawBufferPointer, qos: UInt8, into out: UnsafeMutableRawBufferPointer
  ) throws(PacketError) -> Int {
    if packetID == 0 || qos > 1 || filter.count == 0 { throw .malformed }
    // The fixed header's flags are 0b0010 (MQTT 3.1.1 §3.8.1).
    var w = try Writer(
      out, header: PacketType.subscribe.rawValue << 4 | 0x02, remaining: 2 + 2 + filter.count + 1)
    try w.u16(packetID)
    try w.string(filter)
    try w.byte(qos)
    return w.finish()
  }

  /// PINGREQ. Returns 2.
  public static func pingreq(into out: UnsafeMutableRawBufferPointer) throws(PacketError) -> Int {
    let w = try Writer(out, header: PacketType.pingreq.rawValue << 4, remaining: 0)
    return w.finish()
  }

  /// DISCONNECT. Returns 2.
  public static func disconnect(into out: UnsafeMutableRawBufferPointer) throws(PacketError) -> Int {
    let w = try Writer(out, header: PacketType.disconnect.rawValue << 4, remaining: 0)
    return w.finish()
  }

  /// The bytes of the remaining-length varint for `value` (1 to 4).
  public static func varintLength(_ value: Int) -> Int {
    value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4
  }

  /// "MQTT", the protocol name CONNECT starts with.
  static var protocolName: UnsafeRawBufferPointer {
    let name: StaticString = "MQTT"
    return UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
  }
}

/// Writes one packet into a buffer, checking room before every byte.
struct Writer {
  // SAFETY: `out` is the caller's buffer for the duration of one encoding call; every write is
  // checked against `out.count` first.
  let out: UnsafeMutableRawBufferPointer
  var at = 0

  /// Writes the fixed header; checks that the whole packet fits before anything is written.
  init(_ out: UnsafeMutableRawBufferPointer, header: UInt8, remaining: Int) throws(PacketError) {
    if remaining > Packet.maximumRemainingLength { throw .tooLong }
    if 1 + Packet.varintLength(remaining) + remaining > out.count { throw .noRoom }
    self.out = out
    try byte(header)
    var value = remaining
    repeat {
      var digit = UInt8(value & 0x7F)
      value >>= 7
      if value > 0 { digit |= 0x80 }
      try byte(digit)
    } while value > 0
  }

  mutating func byte(_ value: UInt8) throws(PacketError) {
    if at >= out.count { throw .noRoom }
    out[at] = value
    at += 1
  }

  mutating func u16(_ value: UInt16) throws(PacketError) {
    try byte(UInt8(value >> 8))
    try byte(UInt8(value & 0xFF))
  }

  /// A length-prefixed string (or binary field).
  mutating func string(_ value: UnsafeRawBufferPointer) throws(PacketError) {
    if value.count > 65_535 { throw .tooLong }
    try u16(UInt16(value.count))
    try bytes(value)
  }

  mutating func bytes(_ value: UnsafeRawBufferPointer) throws(PacketError) {
    if value.count > out.count - at { throw .noRoom }
    if value.count > 0 {
      (out.baseAddress! + at).copyMemory(from: value.baseAddress!, byteCount: value.count)
    }
    at += value.count
  }

  func finish() -> Int { at }
}
