// The MQTT system task: the LoopMQTT client held in the world (`FirmwareWorld.mqtt`), polled
// by one task that also publishes the Home Assistant discovery configs after every connect,
// takes commands (output lines set or toggled), and turns the client's failures into records.
// Every record a task emits is also published (`FirmwareWorld.emit` → `MQTTLink.publish`),
// beside the JSON-lines output, which stays as it is.
//
// Topics (README.md, "MQTT"): `<prefix>/<task>/<event>` with the record as its JSON payload
// (a threshold's `on` and `off` both on `<prefix>/<task>/state`); `<prefix>/status` the
// availability (`online`/`offline`, retained, the last will); `<prefix>/lines/<line>/set` a
// command, `<prefix>/lines/<line>/state` its confirmation (`ON`/`OFF`, retained).
// Nothing here allocates: topics are built in fixed text, the discovery configs were laid out
// at startup in one mapping (LoopMQTT's `RetainedSet`), a command is copied out of the client's
// inbox into a fixed-buffer `ReceivedMessage`. No raw pointer here: LoopMQTT's span API.

import LoopCore
import LoopGPIO
import LoopLinux
import LoopMQTT

extension FirmwareInterrupt {
  /// The MQTT client's socket is ready (its `ReadinessGroup`'s fd, watched by the platform).
  public static let mqtt = Interrupt(5)
}

/// A topic being built: at most 127 bytes (a prefix of 63, a task and an event of 31 each).
public typealias Topic = FixedText<128>

/// What the MQTT link counted, beside the client's own `ClientCounters` (both in the summary).
public struct MQTTLinkCounters: Equatable, Sendable {
  /// Records published (accepted by the client: in the send buffer or the QoS 1 window).
  public var published: UInt64 = 0
  /// Records not published: the client dropped them whole (offline at QoS 0, a full send
  /// buffer or window); the client's counters say which.
  public var dropped: UInt64 = 0
  /// Discovery configs published (all of them after every connect).
  public var discoveryPublished: UInt64 = 0
  /// Discovery configs that can never fit the send buffer.
  public var discoveryTooLarge: UInt64 = 0
  /// Commands applied, and commands refused (unknown topic, bad payload: nothing changed).
  public var commands: UInt64 = 0
  public var badCommands: UInt64 = 0
  /// Failures reported as records (every connect failure, refusal, lost connection).
  public var failuresReported: UInt64 = 0
  /// MQTT records (the task's own) the output ring had no room for.
  public var recordsDropped: UInt64 = 0

  public init() {}
}

/// The client and what the firmware publishes with it; held in `FirmwareWorld.mqtt`.
public struct MQTTLink: ~Copyable {
  /// The client (its task is `MQTTTask`).
  public var client: Client
  /// Every topic starts with this.
  public let prefix: FixedText<64>
  /// The QoS records and states are published with.
  public let qos: UInt8
  /// The client's send buffer size (discovery is paced to fit it).
  public let sendBufferBytes: Int
  /// The discovery configs, published retained after every connect.
  public var discovery: RetainedSet
  /// Output lines a command may set (outputs no task drives).
  public var commandable = InlineArray<32, Bool>(repeating: false)
  /// By task index, the duty (0-100) of a PWM task (`pwm` or `pwm_hw`) a command may change, -1
  /// for a task that is not one.
  public var duty = InlineArray<32, Int8>(repeating: -1)
  /// What it counted.
  public var counters = MQTTLinkCounters()
  /// The next discovery config to send on this connection, nil when all are sent.
  var discoveryCursor: Int? = nil
  /// The next output line whose state is to be published on this connection (32: done), then
  /// the next PWM task's duty (32...63: task `stateCursor - 32`).
  var stateCursor = 2 * FirmwareLimits.lines
  /// The client's connections and failures already seen by the task.
  var seenConnections: UInt64 = 0
  var seenFailures: UInt64 = 0

  /// A link publishing under `prefix` at `qos`, with `discovery`'s configs.
  public init(
    client: consuming Client, prefix: FixedText<64>, qos: UInt8, sendBufferBytes: Int,
    discovery: consuming RetainedSet
  ) {
    self.client = client
    self.prefix = prefix
    self.qos = qos
    self.sendBufferBytes = sendBufferBytes
    self.discovery = discovery
  }

  /// The failures the client counted so far.
  var failures: UInt64 {
    let c = client.counters
    return c.connectFailures + c.refusals + c.connectionsLost
  }

  /// Publishes `record` of task `task` on `<prefix>/<task>/<event>` (the threshold's `on`/`off`
  /// on `<prefix>/<task>/state`), retained when it is a state (a reading, a threshold's state,
  /// an encoder's position, a curve's or a hardware PWM's duty); an event (a press, a tick, an error) is not retained.
  mutating func publish<S: Scheduler & ~Copyable>(
    _ record: borrowing RecordLine, task: borrowing ShortName, _ cx: inout Context<S>
  ) {
    var topic = Topic()
    topic.append(prefix)
    topic.append(byte: UInt8(ascii: "/"))
    topic.append(task)
    topic.append(byte: UInt8(ascii: "/"))
    let qos = qos
    let outcome: PublishOutcome = record.withBytes { span in
      var retain = false
      switch MQTTLink.event(in: span) {
      case .some(let range):
        let length = range.upperBound - range.lowerBound
        if MQTTLink.equals(span, range, "on") || MQTTLink.equals(span, range, "off") {
          topic.append("state")
          retain = true
        } else {
          for i in range { topic.append(byte: span[i]) }
          retain =
            MQTTLink.equals(span, range, "reading") || MQTTLink.equals(span, range, "step")
            || MQTTLink.equals(span, range, "duty") || length == 0
        }
      case .none: topic.append("record")
      }
      // The record without its newline.
      let count = span.count > 0 && span[span.count - 1] == 0x0A ? span.count - 1 : span.count
      return client.publish(&cx, topic: topic, payload: span.extracting(0..<count), qos: qos, retain: retain)
    }
    if outcome == .accepted { counters.published += 1 } else { counters.dropped += 1 }
  }

  /// Where the value of `"event":"…"` is in a record, if it has one.
  static func event(in span: Span<UInt8>) -> Range<Int>? {
    let key: StaticString = ",\"event\":\""
    let k = key.utf8CodeUnitCount
    let start = key.utf8Start
    var i = 0
    while i + k <= span.count {
      var match = true
      for j in 0..<k where span[i + j] != start[j] {
        match = false
        break
      }
      if match {
        var end = i + k
        while end < span.count && span[end] != UInt8(ascii: "\"") { end += 1 }
        if end - (i + k) > 31 { return nil }
        return (i + k)..<end
      }
      i += 1
    }
    return nil
  }

  static func equals(_ span: Span<UInt8>, _ range: Range<Int>, _ word: StaticString) -> Bool {
    guard range.count == word.utf8CodeUnitCount else { return false }
    for k in 0..<range.count where span[range.lowerBound + k] != word.utf8Start[k] { return false }
    return true
  }
}

/// The MQTT system task: drives the client, publishes discovery and line states after each
/// connect, applies commands, and reports every connection failure as a record.
public struct MQTTTask: Sendable {
  /// A task with nothing done.
  public init() {}

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    // The link is taken out of the world while the task works with both (it is put back
    // before the poll returns; no other task runs meanwhile).
    guard var link = world.mqtt.take() else { return .ready(()) }
    let done = link.client.poll(&cx)
    reportConnection(&cx, &link, &world)
    if link.client.phase == .connected {
      publishDiscovery(&cx, &link, &world)
      publishStates(&cx, &link, &world)
      takeCommands(&cx, &link, &world)
    }
    world.mqtt = consume link
    return done
  }

  /// A record for each failure since the last poll, and for a new connection.
  @inline(never)
  private func reportConnection<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>, _ link: inout MQTTLink, _ world: inout FirmwareWorld
  ) {
    let failures = link.failures
    if failures > link.seenFailures {
      link.seenFailures = failures
      link.counters.failuresReported += 1
      var record = RecordLine(
        time: cx.now, wall: world.wallClock.unixNanoseconds(at: cx.now), task: ShortName("mqtt"))
      record.field("event", "error")
      switch link.client.lastFailure {
      case .some(.connect(let errno)):
        record.field("error", "connect failed")
        record.field("errno", integer: Int64(errno.rawValue))
        record.field("reason", errno.name)
      case .some(.connectTimeout): record.field("error", "connect timed out")
      case .some(.refused(let code)):
        record.field("error", "connection refused")
        record.field("code", integer: Int64(code))
        record.field("reason", MQTTTask.refusal(code))
      case .some(.io(let errno)):
        record.field("error", "connection lost")
        record.field("errno", integer: Int64(errno.rawValue))
        record.field("reason", errno.name)
      case .some(.closedByBroker):
        record.field("error", "connection lost")
        record.field("reason", "closed by the broker")
      case .some(.keepaliveTimeout):
        record.field("error", "connection lost")
        record.field("reason", "no PINGRESP")
      case .some(.protocolError):
        record.field("error", "connection lost")
        record.field("reason", "protocol error")
      case .some(.dropped):
        record.field("error", "connection lost")
        record.field("reason", "dropped")
      case .none: record.field("error", "connection lost")
      }
      record.field("failures", integer: Int64(failures))
      record.finish()
      emitOwn(record, &cx, &link, &world)
    }
    let connections = link.client.counters.connections
    if connections > link.seenConnections {
      link.seenConnections = connections
      // A new connection: everything retained is published again (the broker may have
      // restarted without persistence), then the lines' states.
      link.discoveryCursor = 0
      link.stateCursor = 0
      var record = RecordLine(
        time: cx.now, wall: world.wallClock.unixNanoseconds(at: cx.now), task: ShortName("mqtt"))
      record.field("event", "connected")
      record.field("connections", integer: Int64(connections))
      record.finish()
      emitOwn(record, &cx, &link, &world)
    }
  }

  static func refusal(_ code: UInt8) -> StaticString {
    switch code {
    case 1: "unacceptable protocol version"
    case 2: "client id rejected"
    case 3: "server unavailable"
    case 4: "bad user name or password"
    case 5: "not authorised"
    default: "unknown return code"
    }
  }

  /// The task's own records go to the output only (not published: they are about the link).
  @inline(never)
  private func emitOwn<S: Scheduler & ~Copyable>(
    _ record: borrowing RecordLine, _ cx: inout Context<S>, _ link: inout MQTTLink,
    _ world: inout FirmwareWorld
  ) {
    if !world.output.emit(record, &cx) { link.counters.recordsDropped += 1 }
  }

  /// Sends the discovery configs (retained, QoS 0) while the send buffer has room for the next;
  /// the client's task (this one) is woken by the publish and goes on at its next poll.
  private func publishDiscovery<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>, _ link: inout MQTTLink, _ world: inout FirmwareWorld
  ) {
    while let offset = link.discoveryCursor {
      guard let m = link.discovery.sizes(at: offset) else {
        link.discoveryCursor = nil
        return
      }
      let packet = 5 + 2 + m.topic + m.payload
      if packet > link.sendBufferBytes {
        link.counters.discoveryTooLarge += 1
        link.discoveryCursor = m.next
        continue
      }
      if link.sendBufferBytes - link.client.pendingSendBytes < packet { return }
      if link.client.publish(&cx, link.discovery, messageAt: offset, qos: 0, retain: true) != .accepted {
        return
      }
      link.counters.discoveryPublished += 1
      link.discoveryCursor = m.next
    }
  }

  /// Publishes each commandable output's state and each PWM task's duty (after a connect),
  /// retained.
  private func publishStates<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>, _ link: inout MQTTLink, _ world: inout FirmwareWorld
  ) {
    if link.discoveryCursor != nil { return }
    while link.stateCursor < 2 * FirmwareLimits.lines {
      let i = link.stateCursor % FirmwareLimits.lines
      if link.sendBufferBytes - link.client.pendingSendBytes < 200 { return }
      if link.stateCursor < FirmwareLimits.lines {
        if link.commandable[i], let value = world.outputState(i) {
          publishState(i, value, &cx, &link, &world)
        }
      } else if link.duty[i] >= 0 {
        if let slot = world.pwmSlot(ofTask: i) {
          // A hardware PWM's state is its task's duty record (the duty in force).
          link.publish(world.pwmDutyRecord(slot), task: world.names[i], &cx)
        } else {
          publishDuty(i, &cx, &link, &world)
        }
      }
      link.stateCursor += 1
    }
  }

  /// `<prefix>/<task>/duty` with PWM task `index`'s duty, retained.
  private func publishDuty<S: Scheduler & ~Copyable>(
    _ index: Int, _ cx: inout Context<S>, _ link: inout MQTTLink, _ world: inout FirmwareWorld
  ) {
    var topic = Topic()
    topic.append(link.prefix)
    topic.append(byte: UInt8(ascii: "/"))
    topic.append(world.names[index])
    topic.append("/duty")
    var payload = FixedText<8>()
    payload.append(decimal: Int(link.duty[index]))
    let qos = link.qos
    let outcome = link.client.publish(&cx, topic: topic, payload: payload, qos: qos, retain: true)
    if outcome == .accepted { link.counters.published += 1 } else { link.counters.dropped += 1 }
  }

  /// A `<prefix>/<task>/duty/set` command: a whole number 0 to 100 for a PWM task (software:
  /// applied from its next period; pwm_hw: written at once by its task); anything else is an error record and changes nothing. True when the topic
  /// is a duty command's (handled here either way).
  private func takeDutyCommand<S: Scheduler & ~Copyable>(
    _ m: ReceivedMessage, _ cx: inout Context<S>, _ link: inout MQTTLink, _ world: inout FirmwareWorld
  ) -> Bool {
    guard let at = MQTTTask.commandName(m.topic, link.prefix, "/", "/duty/set") else { return false }
    var task: Int? = nil
    for index in 0..<FirmwareLimits.tasks where link.duty[index] >= 0 {
      if MQTTTask.same(m.topic, at, world.names[index]) { task = index }
    }
    // The payload: digits only (spaces and a newline around them allowed), 0 to 100.
    var value = 0
    var digits = 0
    var clean = !m.payload.truncated
    for i in 0..<m.payload.count {
      let b = m.payload[i]
      if b >= 0x30 && b <= 0x39 {
        value = value * 10 + Int(b - 0x30)
        digits += 1
        if digits > 3 { clean = false }
      } else if b != 0x20 && b != 0x0A {
        clean = false
      }
    }
    var record = RecordLine(
      time: cx.now, wall: world.wallClock.unixNanoseconds(at: cx.now), task: ShortName("mqtt"))
    guard let task, clean, digits > 0, value <= 100 else {
      link.counters.badCommands += 1
      record.field("event", "error")
      record.field("error", task == nil ? "unknown command topic" : "bad duty payload")
      m.withTopic { record.field("topic", text: $0) }
      m.withPayload { record.field("payload", text: $0) }
      record.finish()
      emitOwn(record, &cx, &link, &world)
      return true
    }
    link.duty[task] = Int8(value)
    world.duties.set(task, percent: Double(value), &cx)
    link.counters.commands += 1
    record.field("event", "command")
    record.field("pwm", world.names[task])
    record.field("duty_percent", integer: Int64(value))
    record.finish()
    emitOwn(record, &cx, &link, &world)
    // A hardware PWM's task writes the duty and publishes its record on the same state topic.
    if world.pwmSlot(ofTask: task) == nil { publishDuty(task, &cx, &link, &world) }
    return true
  }

  @inline(never)
  private func publishState<S: Scheduler & ~Copyable>(
    _ line: Int, _ value: Bool, _ cx: inout Context<S>, _ link: inout MQTTLink, _ world: inout FirmwareWorld
  ) {
    var topic = Topic()
    topic.append(link.prefix)
    topic.append("/lines/")
    topic.append(world.lineNames[line])
    topic.append("/state")
    let payload: StaticString = value ? "ON" : "OFF"
    let qos = link.qos
    let outcome = link.client.publish(&cx, topic: topic, payload: payload, qos: qos, retain: true)
    if outcome == .accepted { link.counters.published += 1 } else { link.counters.dropped += 1 }
  }

  /// Applies the commands waiting in the client's inbox: `<prefix>/lines/<line>/set` with `ON`,
  /// `OFF` or `TOGGLE` (any case; also `1`, `0`, `true`, `false`). Anything else is an error
  /// record and changes nothing; a command applied is a record and the line's state topic.
  @inline(never)
  private func takeCommands<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>, _ link: inout MQTTLink, _ world: inout FirmwareWorld
  ) {
    var m = ReceivedMessage()
    while link.client.nextMessage(&cx, into: &m) {
      if takeDutyCommand(m, &cx, &link, &world) { continue }
      let now = cx.now
      let line = commandLine(m.topic, &link, &world)
      var command: Int = -1  // 0 off, 1 on, 2 toggle
      if MQTTTask.word(m.payload, "on") || MQTTTask.word(m.payload, "1") || MQTTTask.word(m.payload, "true") {
        command = 1
      } else if MQTTTask.word(m.payload, "off") || MQTTTask.word(m.payload, "0")
        || MQTTTask.word(m.payload, "false")
      {
        command = 0
      } else if MQTTTask.word(m.payload, "toggle") {
        command = 2
      }
      var record = RecordLine(
        time: now, wall: world.wallClock.unixNanoseconds(at: now), task: ShortName("mqtt"))
      guard let line, command >= 0, let current = world.outputState(line) else {
        link.counters.badCommands += 1
        record.field("event", "error")
        record.field("error", line == nil ? "unknown command topic" : "bad command payload")
        m.withTopic { record.field("topic", text: $0) }
        m.withPayload { record.field("payload", text: $0) }
        record.finish()
        emitOwn(record, &cx, &link, &world)
        continue
      }
      let value = command == 2 ? !current : command == 1
      var failed = false
      do throws(Errno) { try world.outputs[line]!.set(value, at: now) } catch { failed = true }
      record.field("event", failed ? "error" : "command")
      if failed { record.field("error", "line write failed") }
      record.field("line", world.lineNames[line])
      record.field("value", bool: value)
      record.finish()
      emitOwn(record, &cx, &link, &world)
      if failed {
        link.counters.badCommands += 1
        continue
      }
      link.counters.commands += 1
      publishState(line, value, &cx, &link, &world)
    }
  }

  /// The commandable output line a `<prefix>/lines/<line>/set` topic names, if it does.
  private func commandLine(
    _ topic: FixedText<128>, _ link: inout MQTTLink, _ world: inout FirmwareWorld
  ) -> Int? {
    guard let at = MQTTTask.commandName(topic, link.prefix, "/lines/", "/set") else { return nil }
    for line in 0..<FirmwareLimits.lines where link.commandable[line] {
      if MQTTTask.same(topic, at, world.lineNames[line]) { return line }
    }
    return nil
  }

  /// Where the name is in a topic `<prefix><head><name><tail>` (a name of at least one byte), or
  /// nil when `topic` is not of that shape or was truncated.
  @inline(never)
  static func commandName(
    _ topic: borrowing Topic, _ prefix: borrowing FixedText<64>, _ head: StaticString, _ tail: StaticString
  ) -> Range<Int>? {
    let fixed = prefix.count + head.utf8CodeUnitCount
    guard !topic.truncated, topic.count > fixed + tail.utf8CodeUnitCount else { return nil }
    for i in 0..<prefix.count where topic[i] != prefix[i] { return nil }
    for i in 0..<head.utf8CodeUnitCount where topic[prefix.count + i] != head.utf8Start[i] { return nil }
    let end = topic.count - tail.utf8CodeUnitCount
    for i in 0..<tail.utf8CodeUnitCount where topic[end + i] != tail.utf8Start[i] { return nil }
    return fixed..<end
  }

  /// Whether the bytes of `topic` in `range` are `name`.
  @inline(never)
  static func same(_ topic: borrowing Topic, _ range: Range<Int>, _ name: borrowing ShortName) -> Bool {
    guard name.count == range.count else { return false }
    for i in 0..<name.count where topic[range.lowerBound + i] != name[i] { return false }
    return true
  }

  /// Whether `payload` is `word` (ASCII, any case, surrounding spaces ignored).
  static func word(_ payload: FixedText<256>, _ word: StaticString) -> Bool {
    var start = 0
    var end = payload.count
    while start < end && payload[start] == 0x20 { start += 1 }
    while end > start && (payload[end - 1] == 0x20 || payload[end - 1] == 0x0A) { end -= 1 }
    guard end - start == word.utf8CodeUnitCount else { return false }
    for i in 0..<(end - start) where payload[start + i] | 0x20 != word.utf8Start[i] | 0x20 { return false }
    return true
  }
}

extension FirmwareWorld {
  /// The MQTT link's counters and the client's, when there is a link.
  public var mqttCounters: (link: MQTTLinkCounters, client: ClientCounters, phase: ClientPhase)? {
    switch mqtt {
    case .some(let link): return (link.counters, link.client.counters, link.client.phase)
    case .none: return nil
    }
  }

  /// The logical value output line `index` was last set to, if it is an output.
  func outputState(_ index: Int) -> Bool? {
    switch outputs[index] {
    case .some(let line): return line.value
    case .none: return nil
    }
  }
}
