// board.json's `mqtt`: the broker records are published to (an IP address and port, or a Unix
// socket), the client id, the topic prefix, QoS, keepalive, the credentials file (read at
// startup, never in board.json), Home Assistant discovery, and the client's buffer sizes.
// Boards/README.md ("mqtt") is the user's reference; keep the two in step.
//
// The broker is an IP literal: names are not resolved (getaddrinfo blocks, and nothing may
// block the loop; a name resolved once at startup would go stale across the broker's moves).

import LoopCore
import LoopLinux

/// The MQTT client's settings (`mqtt`).
public struct MQTTConfig: Equatable, Sendable {
  /// Where the broker listens.
  public enum Broker: Equatable, Sendable {
    /// An IPv4 or IPv6 literal and a TCP port.
    case tcp(host: FixedText<48>, port: Int)
    /// A Unix stream socket (a broker on the board itself).
    case unix(Path)
  }

  /// The broker.
  public var broker: Broker
  /// The MQTT client identifier, also the Home Assistant device's identifier (1 to 23 name bytes).
  public var clientID: Name
  /// Every topic starts with it (`sensorloop/<client_id>` unless set).
  public var topicPrefix: FixedText<64>
  /// The QoS records are published with (0 or 1).
  public var qos: Int
  /// The keepalive in seconds (0: none).
  public var keepAliveSeconds: Int
  /// A file of two lines, user name then password, read at startup; nil: no credentials.
  public var credentialsFile: Path?
  /// Whether Home Assistant discovery config messages are published.
  public var discovery: Bool
  /// The discovery prefix Home Assistant listens on.
  public var discoveryPrefix: FixedText<32>
  /// The client's send buffer (QoS 0 messages and discovery configs queue here).
  public var sendBufferBytes: Int
  /// The client's receive buffer (the longest packet accepted from the broker).
  public var receiveBufferBytes: Int
  /// Received commands waiting for the MQTT task.
  public var inboxBytes: Int
  /// QoS 1 messages in flight at most (each keeps `MQTTConfig.windowPacketBytes`).
  public var window: Int

  /// Bytes of one QoS 1 message the window keeps: a record (`RecordLine.capacity`), its topic
  /// (at most 63 + 1 + 31 + 1 + 31 bytes) and the packet's header.
  public static let windowPacketBytes = 512
  /// Bytes for the client's strings: client id, credentials, availability topic, command filters.
  public static let stringBytes = 1024
  /// The longest user name or password in the credentials file.
  public static let maxCredentialBytes = 255
  /// The allowed buffer sizes.
  public static let sendBufferRange: ClosedRange<Int64> = 1024...262_144
  public static let receiveBufferRange: ClosedRange<Int64> = 256...65_536
  public static let inboxRange: ClosedRange<Int64> = 256...65_536

  /// The bytes of the client's one mapping, as `Client` lays it out (each region rounded up to 16).
  public var mappingBytes: Int {
    func round(_ n: Int) -> Int { (n + 15) & ~15 }
    return round(MQTTConfig.stringBytes) + round(sendBufferBytes) + round(receiveBufferBytes)
      + round(inboxBytes) + round(window * MQTTConfig.windowPacketBytes)
  }
}

extension Validator {
  static var mqttKeys: StaticString {
    """
    broker port socket client_id topic_prefix qos keepalive_s credentials_file discovery
    discovery_prefix send_buffer_bytes receive_buffer_bytes inbox_bytes inflight_window
    """
  }

  @inline(never)
  mutating func readMQTT(_ root: Int) throws(ConfigError) -> MQTTConfig? {
    guard let node = doc.member(root, "mqtt") else { return nil }
    let mark = push("mqtt")
    try checkObject(
      node, allowed: Validator.mqttKeys, what: "mqtt",
      example: "{\"broker\": \"192.168.1.10\", \"client_id\": \"greenhouse\"}")

    // The broker: an IP literal (with `port`) or a Unix socket path, not both.
    let port = Int(try integer(node, "port", 1...65_535, default: 1883))
    let broker: MQTTConfig.Broker
    let hostNode = doc.member(node, "broker")
    let socketNode = doc.member(node, "socket")
    if let hostNode, let socketNode {
      _ = push("socket")  // Not popped: the error is thrown (see `pop`).
      _ = hostNode
      throw error(
        .conflict, at: socketNode,
        "\"broker\" and \"socket\" both name the broker; keep one (a TCP address, or a Unix socket path)")
    } else if let hostNode {
      let inner = push("broker")
      broker = .tcp(host: try readBrokerAddress(hostNode, port: port), port: port)
      pop(inner)
    } else if let socketNode {
      let inner = push("socket")
      let path = try readPath(socketNode, absolute: true)
      let fits = path.count <= SocketAddress.unixPathCapacity
      guard fits else {
        var message: [UInt8] = []
        message.append("expected a Unix socket path of at most ")
        message.appendDecimal(SocketAddress.unixPathCapacity)
        message.append(" bytes (the kernel's limit), found ")
        message.appendDecimal(path.count)
        throw error(.range, at: socketNode, message)
      }
      if let at = doc.member(node, "port") {
        _ = push("port")  // Not popped: the error is thrown.
        throw error(.conflict, at: at, "\"port\" goes with \"broker\", not with a Unix \"socket\"")
      }
      broker = .unix(path)
      pop(inner)
    } else {
      throw missing(
        node, "broker",
        "an IPv4 or IPv6 address such as \"192.168.1.10\", or \"socket\": a Unix socket path")
    }

    let clientID = try readClientID(node)
    var prefix = FixedText<64>("sensorloop/")
    prefix.append(clientID)
    if case let (at, inner)? = enter(node, "topic_prefix") {
      prefix = try readTopic(at)
      pop(inner)
    }
    let qos = Int(try integer(node, "qos", 0...1, default: 1))
    let keepAlive = Int(try integer(node, "keepalive_s", 0...65_535, default: 30, unit: "seconds"))
    var credentials: Path? = nil
    if case let (at, inner)? = enter(node, "credentials_file") {
      credentials = try readPath(at, absolute: false)
      pop(inner)
    }
    let discovery = try boolean(node, "discovery", default: true)
    var discoveryPrefix = FixedText<32>("homeassistant")
    if case let (at, inner)? = enter(node, "discovery_prefix") {
      discoveryPrefix = FixedText<32>(try readTopic(at) as FixedText<64>)
      if discoveryPrefix.truncated {
        throw mismatch(.range, at: at, expected: "a topic of 1 to 31 bytes")
      }
      pop(inner)
    }
    let send = Int(
      try integer(node, "send_buffer_bytes", MQTTConfig.sendBufferRange, default: 16_384, unit: "bytes"))
    let receive = Int(
      try integer(node, "receive_buffer_bytes", MQTTConfig.receiveBufferRange, default: 2048, unit: "bytes"))
    let inbox = Int(try integer(node, "inbox_bytes", MQTTConfig.inboxRange, default: 2048, unit: "bytes"))
    let window = Int(try integer(node, "inflight_window", 1...32, default: 16, unit: "messages"))
    pop(mark)
    return MQTTConfig(
      broker: broker, clientID: clientID, topicPrefix: prefix, qos: qos, keepAliveSeconds: keepAlive,
      credentialsFile: credentials, discovery: discovery, discoveryPrefix: discoveryPrefix,
      sendBufferBytes: send, receiveBufferBytes: receive, inboxBytes: inbox, window: window)
  }

  /// An IPv4 or IPv6 literal (what `SocketAddress.parse` accepts): a name is refused with the
  /// reason, since it is never resolved.
  mutating func readBrokerAddress(_ node: Int, port: Int) throws(ConfigError) -> FixedText<48> {
    let expected = bytes(
      "an IPv4 or IPv6 address such as \"192.168.1.10\" (host names are not resolved: a DNS lookup blocks, and nothing may block the loop)"
    )
    guard kind(node) == .string else { throw mismatch(.type, at: node, expected: expected) }
    let text = doc.string(node)
    let parsed = Array(text).withUnsafeBytes { SocketAddress.parse(host: $0, port: UInt16(port)) }
    guard case .some = parsed, let host = FixedText<48>(text) else {
      throw mismatch(.range, at: node, expected: expected)
    }
    return host
  }

  /// `client_id`: 1 to 23 name bytes (what every MQTT 3.1.1 broker accepts).
  mutating func readClientID(_ object: Int) throws(ConfigError) -> Name {
    let expected = bytes("a client id of 1 to 23 letters, digits, '_' or '-' starting with a letter")
    guard case let (node, inner)? = enter(object, "client_id") else {
      throw missing(object, "client_id", expected)
    }
    if kind(node) == .string, let name = asName(doc.string(node)), name.count <= 23 {
      pop(inner)
      return name
    }
    throw mismatch(node, wantedType: .string, expected: expected, else: .range)
  }

  /// A topic (prefix): 1 to 63 printable ASCII bytes without spaces, quotes, backslashes or the
  /// wildcards `+` and `#`, not starting or ending with `/`.
  mutating func readTopic(_ node: Int) throws(ConfigError) -> FixedText<64> {
    if kind(node) == .string {
      let text = doc.string(node)
      let clean = text.allSatisfy {
        $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "#")
          && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\")
      }
      if clean, let first = text.first, let last = text.last, first != UInt8(ascii: "/"),
        last != UInt8(ascii: "/"), let topic = FixedText<64>(text)
      {
        return topic
      }
    }
    throw mismatch(
      node, wantedType: .string,
      expected: bytes(
        "a topic of 1 to 63 printable ASCII bytes without spaces, quotes, '+' or '#', not starting or ending with '/'"
      ), else: .range)
  }
}

/// The user name and password of `MQTTConfig.credentialsFile`: its first line and its second.
public struct MQTTCredentials: Sendable {
  public var username: [UInt8]
  public var password: [UInt8]
}

extension MQTTConfig {
  /// Reads the credentials file (at startup; the password never appears in board.json or in a
  /// message). Throws the reason, said with the file's path.
  public func readCredentials() throws(ConfigError) -> MQTTCredentials? {
    guard let file = credentialsFile else { return nil }
    let contents = try readConfigFile(path: file.bytes, display: file.bytes)
    // The first line (not empty), then the second (to the next line feed or the end); what
    // follows is ignored. A carriage return ending either is not part of it.
    func line(_ start: Int) -> [UInt8] {
      var end = start
      while end < contents.count && contents[end] != 0x0A { end += 1 }
      if end > start && contents[end - 1] == 0x0D { end -= 1 }
      return Array(contents[start..<end])
    }
    var firstEnd = 0
    while firstEnd < contents.count && contents[firstEnd] != 0x0A { firstEnd += 1 }
    guard firstEnd > 0 && firstEnd < contents.count else {
      throw ConfigError(
        kind: .file, file: file.bytes, path: [], line: 0, column: 0,
        message: bytes("expected two lines: the MQTT user name, then the password"))
    }
    let user = line(0)
    let pass = line(firstEnd + 1)
    if user.count > MQTTConfig.maxCredentialBytes || pass.count > MQTTConfig.maxCredentialBytes {
      throw ConfigError(
        kind: .file, file: file.bytes, path: [], line: 0, column: 0,
        message: bytes("the user name and the password are at most 255 bytes each"))
    }
    return MQTTCredentials(username: user, password: pass)
  }
}
