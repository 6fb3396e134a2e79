// An MQTT 3.1.1 client as a task on the loop: one value (`Client`, held in the application's
// world) and one task that calls `Client.poll` each time it is polled. Other tasks publish with
// `Client.publish` and take commands with `Client.nextMessage`.
//
// The connection's life (`Client.phase`):
//
//             deadline passed: socket + non-blocking connect        writable, SO_ERROR 0: CONNECT
//   backoff ──────────────────────────────────────────▶ connecting ──────────────────────────▶ awaitingConnack
//      ▲                                                    │                                       │
//      │ any failure: close, count, wait                    │ error / timeout                       │ CONNACK 0:
//      │ (backoff doubles from reconnectMin                 ▼                                       ▼ online, SUBSCRIBEs,
//      └──── up to reconnectMax; a CONNACK 0 resets it) ◀───┴─────── refused / timeout ◀─── connected   QoS 1 resent
//
// Nothing blocks: the socket is non-blocking and sits in a `ReadinessGroup` the platform watches
// as one interrupt line; the connect completes on writability; keepalive, the CONNACK timeout
// and the backoff are timer deadlines. Memory: one anonymous mapping made at `init` holds the
// send buffer, the receive buffer, the inbox, the QoS 1 in-flight store and the strings
// (client id, credentials, topics); nothing is allocated afterwards.
//
// What is dropped and counted (never silently): a publish that does not fit in the send buffer
// (QoS 0) or finds the in-flight window full (QoS 1), a QoS 0 publish while not connected, an
// incoming message the inbox has no room for, an incoming packet longer than the receive buffer.
// QoS 1 messages wait in the window across reconnects and are sent again with DUP set.
//
// Address: an IP literal or a Unix socket path (`SocketAddress`); names are not resolved (see
// Socket.swift: getaddrinfo blocks).

import CLinux
import LoopCore
import LoopLinux

/// What the client is doing.
public enum ClientPhase: Equatable, Sendable {
  /// Waiting until the next connect attempt.
  case backoff
  /// A TCP connect is under way.
  case connecting
  /// CONNECT sent, waiting for CONNACK.
  case awaitingConnack
  /// Connected: publishing, receiving, pinging.
  case connected
  /// `stop()` was called.
  case stopped
}

/// Why the last connection (or attempt) ended.
public enum ClientFailure: Equatable, Sendable {
  /// The socket could not be made or the connect failed (the errno says why).
  case connect(Errno)
  /// No CONNACK (or no TCP connect) within `connectTimeout`.
  case connectTimeout
  /// The broker refused the CONNECT with this return code (4: bad user name or password,
  /// 5: not authorised).
  case refused(UInt8)
  /// A send or receive failed (the errno says why).
  case io(Errno)
  /// The broker closed the connection.
  case closedByBroker
  /// No PINGRESP within the keepalive period.
  case keepaliveTimeout
  /// The broker sent something that is not MQTT 3.1.1 as this client speaks it.
  case protocolError(PacketError)
  /// `dropConnection()` (a test's network failure).
  case dropped
}

/// Everything the client counts, for the summary.
public struct ClientCounters: Equatable, Sendable {
  /// Connect attempts started.
  public var connectAttempts: UInt64 = 0
  /// CONNACKs that accepted the connection.
  public var connections: UInt64 = 0
  /// Connect attempts that failed before a CONNACK (socket, connect, timeout).
  public var connectFailures: UInt64 = 0
  /// CONNACKs that refused (wrong credentials, ...).
  public var refusals: UInt64 = 0
  /// Established connections that ended other than by `stop()`.
  public var connectionsLost: UInt64 = 0
  /// Packets from the broker that could not be decoded (the connection is dropped).
  public var protocolErrors: UInt64 = 0
  /// Keepalive periods that ended without a PINGRESP.
  public var keepaliveTimeouts: UInt64 = 0
  /// PINGREQs sent, and PINGRESPs received.
  public var pingsSent: UInt64 = 0
  public var pingResponses: UInt64 = 0
  /// QoS 0 messages written to the send buffer.
  public var publishedQoS0: UInt64 = 0
  /// QoS 1 messages accepted into the in-flight window.
  public var publishedQoS1: UInt64 = 0
  /// QoS 1 messages acknowledged (PUBACK matched).
  public var acknowledged: UInt64 = 0
  /// QoS 1 messages sent again (DUP) after a reconnect.
  public var retransmitted: UInt64 = 0
  /// PUBACKs for no message in flight.
  public var unmatchedAcks: UInt64 = 0
  /// Publishes dropped: the send buffer had no room for a QoS 0 message.
  public var droppedSendBufferFull: UInt64 = 0
  /// Publishes dropped: the QoS 1 in-flight window was full.
  public var droppedWindowFull: UInt64 = 0
  /// Publishes dropped: QoS 0 while not connected.
  public var droppedOffline: UInt64 = 0
  /// Publishes dropped: the message is larger than a buffer can ever hold.
  public var droppedTooLarge: UInt64 = 0
  /// Bytes queued for a connection that ended before they were sent.
  public var sendBytesDiscarded: UInt64 = 0
  /// Messages received from the broker (delivered to the inbox or dropped).
  public var received: UInt64 = 0
  /// Received messages dropped: the inbox was full.
  public var droppedInboxFull: UInt64 = 0
  /// Received packets skipped: longer than the receive buffer.
  public var droppedReceiveTooLarge: UInt64 = 0
  /// PUBACKs for received QoS 1 messages that waited for room in the send buffer (sent later,
  /// in order).
  public var acksDelayed: UInt64 = 0
  /// PUBACKs lost: more were waiting for room than the client keeps (`Client.pendingAckLimit`).
  /// The broker counts each such message as in flight until the connection ends, and stops
  /// sending once its own in-flight limit is reached.
  public var acksLost: UInt64 = 0
  /// Subscriptions the broker refused (SUBACK 0x80).
  public var subscribeFailures: UInt64 = 0
  /// SUBACKs received.
  public var subscribed: UInt64 = 0
  /// Timer deadlines the executor had no room for.
  public var timerQueueFull: UInt64 = 0

  /// Zeroed counters.
  public init() {}
}

/// How a client is set up; read once by `Client.init` (its strings are copied).
public struct ClientOptions {
  /// The broker: an IP literal and port, or a Unix socket path.
  public var address: SocketAddress
  /// The client identifier (1-23 characters is what every broker accepts).
  public var clientID: UnsafeRawBufferPointer
  /// User name and password, or nil.
  public var username: UnsafeRawBufferPointer?
  public var password: UnsafeRawBufferPointer?
  /// Keepalive in seconds (0: none).
  public var keepAliveSeconds: UInt16 = 30
  /// The availability topic: `online` (retained) after every connect, `offline` (retained,
  /// QoS 1) as the last will and before a clean stop. Nil: none.
  public var availabilityTopic: UnsafeRawBufferPointer?
  /// QoS of the SUBSCRIBEs (0 or 1).
  public var subscribeQoS: UInt8 = 1
  /// Bytes of the send buffer (the longest QoS 0 packet; QoS 0 messages queue here).
  public var sendBufferBytes = 4096
  /// Bytes of the receive buffer (the longest packet accepted from the broker).
  public var receiveBufferBytes = 4096
  /// Bytes of the inbox (received messages waiting for `nextMessage`, 5 bytes overhead each).
  public var inboxBytes = 2048
  /// QoS 1 messages in flight at most (1...32).
  public var inflightWindow = 8
  /// The longest QoS 1 packet the window keeps (topic + payload + 6 bytes or so).
  public var inflightPacketBytes = 512
  /// Room for the strings: client id, credentials, availability topic, subscriptions.
  public var stringBytes = 1024
  /// The first reconnect delay, doubled after each failure up to `reconnectMax`.
  public var reconnectMin: Duration = .milliseconds(500)
  public var reconnectMax: Duration = .seconds(30)
  /// How long a connect and its CONNACK may take.
  public var connectTimeout: Duration = .seconds(10)

  /// Options for `address` with `clientID` and the defaults above.
  public init(address: SocketAddress, clientID: UnsafeRawBufferPointer) {
    self.address = address
    self.clientID = clientID
  }
}

/// What `Client.publish` did with a message.
public enum PublishOutcome: Equatable, Sendable {
  /// In the send buffer (QoS 0) or the in-flight window (QoS 1, sent when there is room and a
  /// connection, kept until PUBACK).
  case accepted
  /// Dropped and counted (the counters say why).
  case dropped
}

/// A message from the broker, as `Client.nextMessage` lends it: valid until the next call.
public struct Message {
  /// The topic.
  public var topic: UnsafeRawBufferPointer
  /// The payload.
  public var payload: UnsafeRawBufferPointer
  /// Whether the broker sent it as a retained message.
  public var retain: Bool
  /// The QoS it arrived with.
  public var qos: UInt8
}

/// One QoS 1 message in the window.
struct InflightEntry {
  var packetID: UInt16 = 0
  var length = 0
  /// Sent on the current connection (waiting for PUBACK).
  var sentNow = false
  /// Sent on some connection (a later send carries DUP).
  var everSent = false
  var acked = false
}

/// A place in the mapping: offset and length.
struct Region {
  var offset = 0
  var count = 0
}

/// Where each buffer lies in the client's mapping (each region 16-byte aligned).
struct Layout {
  var strings = Region()
  var send = Region()
  var receive = Region()
  var inbox = Region()
  var inflight = Region()
  var bytes = 0

  init(_ o: ClientOptions) {
    strings = next(o.stringBytes)
    send = next(o.sendBufferBytes)
    receive = next(o.receiveBufferBytes)
    inbox = next(o.inboxBytes)
    inflight = next(o.inflightWindow * o.inflightPacketBytes)
  }

  private mutating func next(_ count: Int) -> Region {
    let r = Region(offset: bytes, count: count)
    bytes += (count + 15) & ~15
    return r
  }
}

/// The MQTT client. Hold it in the world; poll it from one task (`poll`), publish and take
/// messages from any task.
public struct Client: ~Copyable {
  /// The most subscriptions a client holds.
  public static var subscriptionCapacity: Int { 8 }
  /// The largest in-flight window.
  public static var windowCapacity: Int { 32 }

  // SAFETY: one anonymous mapping of `mappingBytes`, owned by this value, unmapped in deinit;
  // every access goes through `bytes(_:)` with offsets checked against the regions below.
  private let base: UnsafeMutableRawPointer
  private let mappingBytes: Int

  private let address: SocketAddress
  private let keepAlive: Duration
  private let keepAliveSeconds: UInt16
  private let subscribeQoS: UInt8
  private let reconnectMin: Duration
  private let reconnectMax: Duration
  private let connectTimeout: Duration

  // Strings.
  private let strings: Region
  private var stringsUsed = 0
  private var clientID = Region()
  private var username: Region?
  private var password: Region?
  private var availability: Region?
  private var subscriptions = InlineArray<8, Region>(repeating: Region())
  private var subscriptionCount = 0

  // Send buffer: bytes [sendHead, sendTail) are waiting.
  private let send: Region
  private var sendHead = 0
  private var sendTail = 0
  // Receive buffer: bytes [0, receiveCount) are received and not yet decoded.
  private let receive: Region
  private var receiveCount = 0
  /// Bytes of an oversized packet still to be skipped.
  private var receiveSkip = 0
  /// Packet ids of received QoS 1 messages whose PUBACK found no room in the send buffer, in
  /// the order they arrived (acknowledgements go out in that order).
  private var pendingAcks = InlineArray<32, UInt16>(repeating: 0)
  private var pendingAckCount = 0
  // Inbox: entries in [inboxHead, inboxTail); the one lent by `nextMessage` is at inboxHead
  // until the next call.
  private let inbox: Region
  private var inboxHead = 0
  private var inboxTail = 0
  private var inboxLent = 0
  // In-flight window: a ring of `window` entries, slot i's packet at inflight + i * slotBytes.
  private let inflight: Region
  private let slotBytes: Int
  private let window: Int
  private var entries = InlineArray<32, InflightEntry>(first: InflightEntry()) { $0 }
  private var inflightHead = 0
  private var inflightCount = 0
  private var nextPacketID: UInt16 = 1

  // Connection.
  private let group: ReadinessGroup
  private var socket: StreamSocket?
  public private(set) var phase: ClientPhase = .backoff
  private var deadline: Instant = .zero
  private var backoff: Duration
  private var lastSent: Instant = .zero
  private var pingSentAt: Instant?
  private var driver: Waker?
  private var consumer: Waker?
  private let line: Interrupt

  /// What the client counted.
  public private(set) var counters = ClientCounters()
  /// Why the last connection or attempt ended, if one did.
  public private(set) var lastFailure: ClientFailure?

  /// A client with its buffers (one anonymous mapping, the only memory it takes), not yet
  /// connecting: the first `poll` starts. `line` is the interrupt line the platform raises for
  /// `readinessDescriptor`: watch it before running (`platform.watch(client.readinessDescriptor,
  /// as: line, for: .readable)`). Throws `.invalidArgument` for options out of range (a window of
  /// 0 or over 32, strings larger than `stringBytes`, buffers under 16 bytes) and what mmap or
  /// epoll_create1 throws.
  public init(_ options: ClientOptions, line: Interrupt) throws(Errno) {
    let o = options
    var stringTotal = o.clientID.count + (o.username?.count ?? 0) + (o.password?.count ?? 0)
    stringTotal += o.availabilityTopic?.count ?? 0
    guard stringTotal <= o.stringBytes, o.availabilityTopic?.count != 0, o.inflightWindow >= 1,
      o.inflightWindow <= Self.windowCapacity, o.sendBufferBytes >= 16,
      o.receiveBufferBytes >= 16, o.inboxBytes >= 16, o.inflightPacketBytes >= 16,
      o.stringBytes >= 0, o.subscribeQoS <= 1, o.reconnectMin > .zero, o.reconnectMax >= o.reconnectMin,
      o.clientID.count <= 65_535
    else { throw .invalidArgument }
    let layout = Layout(o)
    guard let mapped = cl_mmap(nil, layout.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      mapped != UnsafeMutableRawPointer(bitPattern: -1)
    else { throw Errno(rawValue: cl_errno()) }
    let readiness: ReadinessGroup
    do throws(Errno) {
      readiness = try ReadinessGroup()
    } catch {
      _ = cl_munmap(mapped, layout.bytes)
      throw error
    }
    self.init(o, line: line, layout: layout, mapped: mapped, group: readiness)
  }

  /// The rest of `init`, which cannot fail (a noncopyable value is initialised on one path).
  private init(
    _ o: ClientOptions, line: Interrupt, layout: Layout, mapped: UnsafeMutableRawPointer,
    group: consuming ReadinessGroup
  ) {
    strings = layout.strings
    send = layout.send
    receive = layout.receive
    inbox = layout.inbox
    inflight = layout.inflight
    slotBytes = o.inflightPacketBytes
    window = o.inflightWindow
    mappingBytes = layout.bytes
    base = mapped
    self.group = group
    address = o.address
    keepAliveSeconds = o.keepAliveSeconds
    keepAlive = .seconds(Int64(o.keepAliveSeconds))
    subscribeQoS = o.subscribeQoS
    reconnectMin = o.reconnectMin
    reconnectMax = o.reconnectMax
    connectTimeout = o.connectTimeout
    backoff = o.reconnectMin
    self.line = line
    // The strings, copied in (their total was checked above).
    clientID = storeString(o.clientID)
    if let u = o.username { username = storeString(u) }
    if let p = o.password { password = storeString(p) }
    if let a = o.availabilityTopic { availability = storeString(a) }
  }

  deinit {
    _ = cl_munmap(base, mappingBytes)
  }

  /// The fd the platform watches for the client's socket (see `init`).
  public var readinessDescriptor: Int32 { group.descriptor }

  /// QoS 1 messages in the window (sent and unacknowledged, or waiting to be sent).
  public var inflightMessages: Int {
    var n = 0
    for i in 0..<inflightCount where !entries[(inflightHead + i) % window].acked { n += 1 }
    return n
  }

  /// Bytes waiting in the send buffer.
  public var pendingSendBytes: Int { sendTail - sendHead }

  /// Adds a topic filter subscribed to on every connection (at startup: before the first poll).
  /// Throws `.noSpace` past `subscriptionCapacity` or when the strings have no room.
  @inline(never)
  public mutating func subscribe(_ filter: UnsafeRawBufferPointer) throws(Errno) {
    guard subscriptionCount < Self.subscriptionCapacity, filter.count > 0 else { throw .noSpace }
    guard filter.count <= strings.count - stringsUsed else { throw .noSpace }
    let r = storeString(filter)
    subscriptions[subscriptionCount] = r
    subscriptionCount += 1
  }

  // MARK: The task's poll

  /// Runs the connection: call it from the client's task on every poll; returns `.pending`
  /// until `stop()` (then `.ready`). Registers the task for the socket's line and its next
  /// deadline.
  @inline(never)
  public mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>) -> Poll<Void> {
    driver = cx.waker
    _ = cx.take(line)
    group.drain()
    var now = cx.now
    // A few steps per poll: each phase change may make the next one possible at once.
    for _ in 0..<4 {
      let before = phase
      switch phase {
      case .stopped: return .ready(())
      case .backoff:
        if now >= deadline { startConnect(now) }
      case .connecting:
        checkConnect(now)
      case .awaitingConnack, .connected:
        if !service(&cx, now) { cx.yieldNow() }
      }
      if phase == before { break }
      now = cx.now
    }
    armTimer(&cx)
    return .pending
  }

  /// Sends `offline` (retained) and DISCONNECT if connected, then closes the socket; `poll`
  /// returns `.ready` from now on. With a `linger` of 0 it does not wait (from a task); a
  /// program that has stopped its loop passes a few hundred milliseconds: after the DISCONNECT
  /// the socket is half-closed and read, for at most `linger`, until the broker closes it. A
  /// socket closed with unread bytes (PUBACKs on their way) sends RST, and a broker that sees the
  /// reset before it reads the DISCONNECT publishes the will (`offline`, QoS 1) instead.
  public mutating func stop(now: Instant, linger: Duration = .zero) {
    if phase == .connected {
      if let a = availability { _ = queuePublish(topic: a, payload: Self.offline, qos: 0, retain: true) }
      _ = queue(.disconnect)
      if flush(now), let fd = socketDescriptor {
        _ = cl_shutdown(fd, 1)  // SHUT_WR: a FIN after the DISCONNECT.
        drainUntilClosed(until: monotonicNow() + linger)
      }
    }
    closeSocket()
    phase = .stopped
  }

  /// Reads and discards until the broker closes, an error, or `deadline` (waiting on the
  /// readiness group, which reports each new arrival).
  private mutating func drainUntilClosed(until deadline: Instant) {
    let room = UnsafeMutableRawBufferPointer(start: base + receive.offset, count: receive.count)
    var event = epoll_event()
    for _ in 0..<1_000 {
      var got: Int? = nil
      var failed = false
      switch socket {
      case .some(let s):
        do throws(Errno) { got = try s.receive(into: room) } catch { failed = true }
      case .none: return
      }
      if failed || got == 0 { return }
      if got != nil { continue }
      let left = deadline - monotonicNow()
      if left <= .zero { return }
      let ms = Int32(min(left.nanoseconds / 1_000_000 + 1, 1_000))
      _ = cl_epoll_wait(group.descriptor, &event, 1, ms)
    }
  }

  /// Closes the socket as a network failure would (no DISCONNECT: the broker publishes the
  /// will), then reconnects after the backoff. For tests and a firmware's "reconnect now".
  public mutating func dropConnection(now: Instant) {
    if phase == .stopped || phase == .backoff { return }
    fail(.dropped, now: now)
  }

  // MARK: Publishing and receiving, from any task

  /// Publishes `payload` on `topic` at `qos` (0 or 1). QoS 0 goes into the send buffer (dropped
  /// when not connected or no room); QoS 1 into the in-flight window (dropped when full), sent
  /// when connected and kept until acknowledged. Wakes the client's task.
  @inline(never)
  public mutating func publish<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>, topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, qos: UInt8,
    retain: Bool = false
  ) -> PublishOutcome {
    let outcome = publish(topic: topic, payload: payload, qos: qos, retain: retain)
    if outcome == .accepted, let driver { cx.wake(driver) }
    return outcome
  }

  /// `publish` without waking the client's task (the caller polls it, or it is the caller).
  /// `qos` above 1 is a programmer error (the config allows 0 and 1).
  public mutating func publish(
    topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, qos: UInt8, retain: Bool = false
  ) -> PublishOutcome {
    precondition(qos <= 1, "Client.publish: QoS 0 or 1")
    if qos == 0 {
      if phase != .connected {
        counters.droppedOffline += 1
        return .dropped
      }
      let remaining = 2 + topic.count + payload.count
      if 1 + Packet.varintLength(remaining) + remaining > send.count {
        counters.droppedTooLarge += 1
        return .dropped
      }
      let written = queue(.publish(topic: topic, payload: payload, qos: 0, retain: retain))
      if !written {
        counters.droppedSendBufferFull += 1
        return .dropped
      }
      counters.publishedQoS0 += 1
      return .accepted
    }
    if inflightCount == window { compactWindow() }
    if inflightCount == window {
      counters.droppedWindowFull += 1
      return .dropped
    }
    let index = (inflightHead + inflightCount) % window
    let id = allocatePacketID()
    let slot = UnsafeMutableRawBufferPointer(
      start: base + inflight.offset + index * slotBytes, count: slotBytes)
    let length: Int
    do {
      length = try Packet.publish(
        topic: topic, payload: payload, qos: 1, retain: retain, packetID: id, into: slot)
    } catch {
      counters.droppedTooLarge += 1
      return .dropped
    }
    if length > send.count {
      // It could never leave: the send buffer is smaller than the packet.
      counters.droppedTooLarge += 1
      return .dropped
    }
    entries[index] = InflightEntry(packetID: id, length: length)
    inflightCount += 1
    counters.publishedQoS1 += 1
    if phase == .connected { pumpWindow() }
    return .accepted
  }

  /// The next message from the broker, lent until the next call; nil when none (then the
  /// calling task is woken when one arrives).
  public mutating func nextMessage<S: Scheduler & ~Copyable>(_ cx: inout Context<S>) -> Message? {
    if inboxLent > 0 {
      inboxHead += inboxLent
      inboxLent = 0
      if inboxHead == inboxTail {
        inboxHead = 0
        inboxTail = 0
      }
    }
    if inboxHead == inboxTail {
      consumer = cx.waker
      return nil
    }
    let at = base + inbox.offset + inboxHead
    let topicLength =
      Int(at.load(fromByteOffset: 0, as: UInt8.self)) << 8
      | Int(at.load(fromByteOffset: 1, as: UInt8.self))
    let payloadLength =
      Int(at.load(fromByteOffset: 2, as: UInt8.self)) << 8
      | Int(at.load(fromByteOffset: 3, as: UInt8.self))
    let flags = at.load(fromByteOffset: 4, as: UInt8.self)
    inboxLent = 5 + topicLength + payloadLength
    return Message(
      topic: UnsafeRawBufferPointer(start: at + 5, count: topicLength),
      payload: UnsafeRawBufferPointer(start: at + 5 + topicLength, count: payloadLength),
      retain: flags & 1 != 0, qos: flags >> 1)
  }

  // MARK: Connection

  private mutating func startConnect(_ now: Instant) {
    counters.connectAttempts += 1
    resetConnectionState()
    do {
      let s = try StreamSocket(connectingTo: address)
      try group.add(s.rawValue, for: .both)
      socket = .some(consume s)
    } catch {
      closeSocket()
      fail(.connect(error), now: now)
      return
    }
    phase = .connecting
    deadline = now + connectTimeout
    checkConnect(now)
  }

  private mutating func checkConnect(_ now: Instant) {
    var done = false
    var failure: Errno?
    switch socket {
    case .some(let s):
      do throws(Errno) { done = try s.finishConnect() } catch { failure = error }
    case .none:
      failure = .badFileDescriptor
    }
    if let failure {
      fail(.connect(failure), now: now)
      return
    }
    if !done {
      if now >= deadline { fail(.connectTimeout, now: now) }
      return
    }
    // Connected: CONNECT with the will.
    let id = string(clientID)
    let user = username.map { string($0) }
    let pass = password.map { string($0) }
    var will: Will?
    if let a = availability {
      will = Will(topic: string(a), payload: UnsafeRawBufferPointer(Self.offline), qos: 1, retain: true)
    }
    let keepAliveSeconds = keepAliveSeconds
    let ok = queue(
      .connect(clientID: id, keepAliveSeconds: keepAliveSeconds, username: user, password: pass, will: will))
    if !ok {
      fail(.protocolError(.noRoom), now: now)
      return
    }
    phase = .awaitingConnack
    _ = flush(now)
  }

  /// Reads, decodes, sends, pings. False when it stopped early to let other tasks run.
  private mutating func service<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ now: Instant) -> Bool {
    var finished = true
    if !receiveAll(now, &finished) { return true }
    if phase == .awaitingConnack && now >= deadline {
      fail(.connectTimeout, now: now)
      return true
    }
    if phase == .connected {
      sendPendingAcks()
      pumpWindow()
      if keepAliveSeconds > 0 {
        if let sent = pingSentAt {
          if now - sent >= keepAlive {
            counters.keepaliveTimeouts += 1
            fail(.keepaliveTimeout, now: now)
            return true
          }
        } else if now - lastSent >= keepAlive {
          if queue(.pingreq) {
            pingSentAt = now
            counters.pingsSent += 1
          }
        }
      }
    }
    if !flush(now) { return true }
    // Acknowledgements that waited for the bytes just written.
    if pendingAckCount > 0 && phase == .connected {
      sendPendingAcks()
      if !flush(now) { return true }
    }
    if let consumer, inboxTail > inboxHead + inboxLent { cx.wake(consumer) }
    return finished
  }

  /// Reads until EAGAIN (at most 16 reads, then `finished` is false) and handles every whole
  /// packet. False when the connection failed.
  private mutating func receiveAll(_ now: Instant, _ finished: inout Bool) -> Bool {
    for _ in 0..<16 {
      let room = UnsafeMutableRawBufferPointer(
        start: base + receive.offset + receiveCount, count: receive.count - receiveCount)
      var got: Int?
      var failure: Errno?
      switch socket {
      case .some(let s):
        do throws(Errno) { got = try s.receive(into: room) } catch { failure = error }
      case .none: return false
      }
      if let failure {
        fail(.io(failure), now: now)
        return false
      }
      guard let count = got else { return true }
      if count == 0 {
        fail(.closedByBroker, now: now)
        return false
      }
      receiveCount += count
      if !decodeReceived(now) { return false }
    }
    finished = false
    return true
  }

  /// Handles the whole packets at the start of the receive buffer and keeps the rest.
  private mutating func decodeReceived(_ now: Instant) -> Bool {
    var at = 0
    defer {
      // Keep what is left at the start of the buffer.
      if at > 0 {
        // A failure on the way closed the connection and emptied the buffer: nothing is left.
        let left = max(receiveCount - at, 0)
        if left > 0 { (base + receive.offset).copyMemory(from: base + receive.offset + at, byteCount: left) }
        receiveCount = left
      }
    }
    while at < receiveCount {
      if receiveSkip > 0 {
        let skip = min(receiveSkip, receiveCount - at)
        receiveSkip -= skip
        at += skip
        continue
      }
      let bytes = UnsafeRawBufferPointer(start: base + receive.offset + at, count: receiveCount - at)
      let frame: Frame
      do {
        guard let f = try Packet.frame(bytes, limit: Packet.maximumRemainingLength + 5) else { return true }
        frame = f
      } catch {
        counters.protocolErrors += 1
        fail(.protocolError(error), now: now)
        return false
      }
      if frame.length > receive.count {
        // Too long for the buffer: skipped whole, counted.
        counters.droppedReceiveTooLarge += 1
        if frame.header >> 4 == PacketType.publish.rawValue { counters.received += 1 }
        receiveSkip = frame.length
        continue
      }
      if frame.length > bytes.count { return true }
      do {
        let packet = try Packet.decode(frame, in: bytes)
        if !handle(packet, bytes, now) { return false }
      } catch {
        counters.protocolErrors += 1
        fail(.protocolError(error), now: now)
        return false
      }
      at += frame.length
    }
    return true
  }

  private mutating func handle(_ packet: Incoming, _ bytes: UnsafeRawBufferPointer, _ now: Instant) -> Bool {
    switch packet {
    case .connack(_, let code):
      guard phase == .awaitingConnack else {
        counters.protocolErrors += 1
        fail(.protocolError(.malformed), now: now)
        return false
      }
      if code != 0 {
        counters.refusals += 1
        fail(.refused(code), now: now)
        return false
      }
      connected(now)
    case .publish(let p):
      counters.received += 1
      deliver(p, bytes)
      if p.qos == 1 { acknowledge(p.packetID) }
    case .puback(let id):
      var matched = false
      for i in 0..<inflightCount {
        let index = (inflightHead + i) % window
        if !entries[index].acked && entries[index].sentNow && entries[index].packetID == id {
          entries[index].acked = true
          matched = true
          break
        }
      }
      if matched {
        counters.acknowledged += 1
        compactWindow()
      } else {
        counters.unmatchedAcks += 1
      }
    case .suback(_, _, let failures, _):
      counters.subscribed += 1
      counters.subscribeFailures += UInt64(failures)
    case .unsuback: break
    case .pingresp:
      counters.pingResponses += 1
      pingSentAt = nil
    }
    return true
  }

  /// CONNACK 0: online, subscriptions, the window sent again.
  private mutating func connected(_ now: Instant) {
    phase = .connected
    counters.connections += 1
    backoff = reconnectMin
    lastFailure = nil
    if let a = availability { _ = queuePublish(topic: a, payload: Self.online, qos: 0, retain: true) }
    for i in 0..<subscriptionCount {
      let r = subscriptions[i]
      let id = allocatePacketID()
      let qos = subscribeQoS
      let filter = string(r)
      _ = queue(.subscribe(packetID: id, filter: filter, qos: qos))
    }
    pumpWindow()
  }

  /// Copies a received PUBLISH into the inbox, or counts it dropped.
  private mutating func deliver(_ p: PublishView, _ bytes: UnsafeRawBufferPointer) {
    let need = 5 + p.topicLength + p.payloadLength
    if p.topicLength > 65_535 || p.payloadLength > 65_535 || need > inbox.count {
      counters.droppedInboxFull += 1
      return
    }
    if inbox.count - inboxTail < need && inboxHead > 0 && inboxLent == 0 {
      // Move the waiting entries to the front to make room at the end.
      let waiting = inboxTail - inboxHead
      if waiting > 0 {
        (base + inbox.offset).copyMemory(from: base + inbox.offset + inboxHead, byteCount: waiting)
      }
      inboxHead = 0
      inboxTail = waiting
    }
    if inbox.count - inboxTail < need {
      counters.droppedInboxFull += 1
      return
    }
    let at = base + inbox.offset + inboxTail
    at.storeBytes(of: UInt8(p.topicLength >> 8), toByteOffset: 0, as: UInt8.self)
    at.storeBytes(of: UInt8(p.topicLength & 0xFF), toByteOffset: 1, as: UInt8.self)
    at.storeBytes(of: UInt8(p.payloadLength >> 8), toByteOffset: 2, as: UInt8.self)
    at.storeBytes(of: UInt8(p.payloadLength & 0xFF), toByteOffset: 3, as: UInt8.self)
    at.storeBytes(of: (p.retain ? 1 : 0) | p.qos << 1, toByteOffset: 4, as: UInt8.self)
    (at + 5).copyMemory(from: bytes.baseAddress! + p.topicOffset, byteCount: p.topicLength)
    if p.payloadLength > 0 {
      (at + 5 + p.topicLength).copyMemory(
        from: bytes.baseAddress! + p.payloadOffset, byteCount: p.payloadLength)
    }
    inboxTail += need
  }

  /// Ends the connection or attempt: counts it, closes the socket, waits `backoff` (doubled
  /// for next time, up to `reconnectMax`).
  @inline(never)
  private mutating func fail(_ failure: ClientFailure, now: Instant) {
    switch failure {
    case .connect, .connectTimeout:
      counters.connectFailures += 1
    case .refused: break
    default:
      if phase == .connected { counters.connectionsLost += 1 } else { counters.connectFailures += 1 }
    }
    lastFailure = failure
    closeSocket()
    phase = .backoff
    deadline = now + backoff
    backoff = backoff + backoff
    if reconnectMax < backoff { backoff = reconnectMax }
  }

  private mutating func closeSocket() {
    if let fd = socketDescriptor { group.remove(fd) }
    socket = nil
    counters.sendBytesDiscarded += UInt64(sendTail - sendHead)
    sendHead = 0
    sendTail = 0
    receiveCount = 0
    receiveSkip = 0
    pingSentAt = nil
    for i in 0..<inflightCount { entries[(inflightHead + i) % window].sentNow = false }
  }

  private var socketDescriptor: Int32? {
    switch socket {
    case .some(let s): return s.rawValue
    case .none: return nil
    }
  }

  private mutating func resetConnectionState() {
    sendHead = 0
    sendTail = 0
    // A new (clean) session owes the broker nothing.
    pendingAckCount = 0
    receiveCount = 0
    receiveSkip = 0
    pingSentAt = nil
  }

  private mutating func armTimer<S: Scheduler & ~Copyable>(_ cx: inout Context<S>) {
    var next: Instant
    switch phase {
    case .stopped: return
    case .backoff, .connecting, .awaitingConnack: next = deadline
    case .connected:
      if keepAliveSeconds == 0 { return }
      if let sent = pingSentAt { next = sent + keepAlive } else { next = lastSent + keepAlive }
    }
    do { try cx.wake(at: next) } catch { counters.timerQueueFull += 1 }
  }

  // MARK: Sending

  /// Encodes one packet at the end of the send buffer (moving waiting bytes to the front when
  /// that makes room); false when it does not fit.
  @inline(never)
  private mutating func queue(_ packet: Outgoing) -> Bool {
    if sendHead == sendTail {
      sendHead = 0
      sendTail = 0
    }
    var room = UnsafeMutableRawBufferPointer(
      start: base + send.offset + sendTail, count: send.count - sendTail)
    do {
      sendTail += try packet.encode(into: room)
      return true
    } catch {
      if sendHead == 0 { return false }
    }
    let waiting = sendTail - sendHead
    (base + send.offset).copyMemory(from: base + send.offset + sendHead, byteCount: waiting)
    sendHead = 0
    sendTail = waiting
    room = UnsafeMutableRawBufferPointer(start: base + send.offset + sendTail, count: send.count - sendTail)
    do {
      sendTail += try packet.encode(into: room)
      return true
    } catch {
      return false
    }
  }

  /// A packet `queue` encodes. One `queue` for every kind: given a closure instead, the
  /// optimiser made a copy of `queue` for each of its nine call sites.
  private enum Outgoing {
    case connect(
      clientID: UnsafeRawBufferPointer, keepAliveSeconds: UInt16, username: UnsafeRawBufferPointer?,
      password: UnsafeRawBufferPointer?, will: Will?)
    case publish(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, qos: UInt8, retain: Bool)
    case subscribe(packetID: UInt16, filter: UnsafeRawBufferPointer, qos: UInt8)
    case puback(packetID: UInt16)
    case pingreq
    case disconnect
    /// A packet already encoded (a window slot), with DUP set when `dup`.
    case copy(UnsafeRawPointer, length: Int, dup: Bool)

    /// Encodes the packet into `out`; returns its length.
    func encode(into out: UnsafeMutableRawBufferPointer) throws(PacketError) -> Int {
      switch self {
      case .connect(let id, let keepAliveSeconds, let user, let pass, let will):
        return try Packet.connect(
          clientID: id, keepAliveSeconds: keepAliveSeconds, cleanSession: true, username: user,
          password: pass, will: will, into: out)
      case .publish(let topic, let payload, let qos, let retain):
        return try Packet.publish(topic: topic, payload: payload, qos: qos, retain: retain, into: out)
      case .subscribe(let id, let filter, let qos):
        return try Packet.subscribe(packetID: id, filter: filter, qos: qos, into: out)
      case .puback(let id): return try Packet.puback(packetID: id, into: out)
      case .pingreq: return try Packet.pingreq(into: out)
      case .disconnect: return try Packet.disconnect(into: out)
      case .copy(let packet, let length, let dup):
        if length > out.count { throw .noRoom }
        out.baseAddress!.copyMemory(from: packet, byteCount: length)
        if dup { out[0] |= 0x08 }
        return length
      }
    }
  }

  /// How many PUBACKs may wait for room in the send buffer.
  public static let pendingAckLimit = 32

  /// Queues the PUBACK for received message `id`, or keeps it until the send buffer has room
  /// (behind any that wait already: PUBACKs go out in the order the messages came).
  private mutating func acknowledge(_ id: UInt16) {
    if pendingAckCount == 0 && queue(.puback(packetID: id)) { return }
    counters.acksDelayed += 1
    guard pendingAckCount < Self.pendingAckLimit else {
      counters.acksLost += 1
      return
    }
    pendingAcks[pendingAckCount] = id
    pendingAckCount += 1
  }

  /// Queues the waiting PUBACKs, oldest first, while the send buffer has room.
  private mutating func sendPendingAcks() {
    var sent = 0
    while sent < pendingAckCount {
      let id = pendingAcks[sent]
      guard queue(.puback(packetID: id)) else { break }
      sent += 1
    }
    guard sent > 0 else { return }
    for i in sent..<pendingAckCount { pendingAcks[i - sent] = pendingAcks[i] }
    pendingAckCount -= sent
  }

  private mutating func queuePublish(topic: Region, payload: StaticString, qos: UInt8, retain: Bool) -> Bool {
    let t = string(topic)
    let p = UnsafeRawBufferPointer(start: payload.utf8Start, count: payload.utf8CodeUnitCount)
    return queue(.publish(topic: t, payload: p, qos: qos, retain: retain))
  }

  /// Copies the window's unsent messages into the send buffer, in order, while there is room
  /// (DUP set on those sent on an earlier connection).
  private mutating func pumpWindow() {
    for i in 0..<inflightCount {
      let index = (inflightHead + i) % window
      if entries[index].acked || entries[index].sentNow { continue }
      let packet = base + inflight.offset + index * slotBytes
      let length = entries[index].length
      let dup = entries[index].everSent
      let ok = queue(.copy(UnsafeRawPointer(packet), length: length, dup: dup))
      if !ok { return }
      if dup { counters.retransmitted += 1 }
      entries[index].sentNow = true
      entries[index].everSent = true
    }
  }

  /// Frees acknowledged entries at the head of the window.
  private mutating func compactWindow() {
    while inflightCount > 0 && entries[inflightHead].acked {
      entries[inflightHead] = InflightEntry()
      inflightHead = (inflightHead + 1) % window
      inflightCount -= 1
    }
  }

  /// Sends what the send buffer holds until it is empty or the socket has no room. False when
  /// the connection failed.
  private mutating func flush(_ now: Instant) -> Bool {
    while sendHead < sendTail {
      let waiting = UnsafeRawBufferPointer(start: base + send.offset + sendHead, count: sendTail - sendHead)
      var sent: Int?
      var failure: Errno?
      switch socket {
      case .some(let s):
        do throws(Errno) { sent = try s.send(waiting) } catch { failure = error }
      case .none: return false
      }
      if let failure {
        fail(.io(failure), now: now)
        return false
      }
      guard let count = sent else { return true }
      sendHead += count
      lastSent = now
    }
    sendHead = 0
    sendTail = 0
    return true
  }

  /// A packet id not used by a message in the window (1...65535).
  private mutating func allocatePacketID() -> UInt16 {
    while true {
      let id = nextPacketID
      nextPacketID = nextPacketID == 65_535 ? 1 : nextPacketID + 1
      var used = false
      for i in 0..<inflightCount where entries[(inflightHead + i) % window].packetID == id { used = true }
      if !used { return id }
    }
  }

  // MARK: Strings

  /// Copies `bytes` into the strings region; the caller checked the room.
  @inline(never)
  private mutating func storeString(_ bytes: UnsafeRawBufferPointer) -> Region {
    precondition(bytes.count <= strings.count - stringsUsed, "Client: strings region full")
    let r = Region(offset: strings.offset + stringsUsed, count: bytes.count)
    if bytes.count > 0 { (base + r.offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
    stringsUsed += bytes.count
    return r
  }

  private func string(_ r: Region) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: base + r.offset, count: r.count)
  }

  private static var online: StaticString { "online" }
  private static var offline: StaticString { "offline" }
}

extension UnsafeRawBufferPointer {
  /// The bytes of a string literal.
  public init(_ text: StaticString) {
    self.init(start: text.utf8Start, count: text.utf8CodeUnitCount)
  }
}
