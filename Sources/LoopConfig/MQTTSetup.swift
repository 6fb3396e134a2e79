// The MQTT link built at startup from `mqtt` (ValidateMQTT.swift): the LoopMQTT client with
// its buffers, credentials and availability topic, the command subscription, the output lines
// commands may set, and the Home Assistant discovery configs laid out once (startup may
// allocate; the loop only reads them). README.md ("MQTT") documents the topics and entities.

import LoopCore
import LoopLinux
import LoopMQTT
import LoopTasks

extension BoardConfig {
  /// Output lines no task uses: the ones MQTT commands may set (a task driving the line, a
  /// heartbeat, a PWM, a threshold, would overwrite a command at its next step).
  public var commandableLines: [Int] {
    lines.indices.filter { lines[$0].direction == .output && lineUsers.count > $0 && lineUsers[$0] < 0 }
  }

  /// The PWM tasks, software and hardware, whose duty an MQTT command sets (index, configured
  /// duty). (For tests: the program asks each task's `commandDuty`, with no array of pairs.)
  public var pwmTasks: [(Int, Int)] {
    tasks.indices.compactMap { i in tasks[i].kind.commandDuty.map { (i, $0) } }
  }

  /// The MQTT link for `mqtt`, its client not yet connecting (the MQTT task's first poll
  /// starts). Reads the credentials file. Throws what cannot be set up.
  public func makeMQTTLink() throws(StartupError) -> MQTTLink? {
    guard let m = mqtt else { return nil }
    let credentials: MQTTCredentials?
    do { credentials = try m.readCredentials() } catch {
      var message: [UInt8] = []
      error.render(into: &message)
      var e = StartupError("sensorloop: mqtt credentials_file: ")
      e.message.append(contentsOf: message)
      throw e
    }
    let address: SocketAddress?
    switch m.broker {
    case .tcp(let host, let port):
      address = host.bytes.withUnsafeBytes { SocketAddress.parse(host: $0, port: UInt16(port)) }
    case .unix(let path):
      address = path.bytes.withUnsafeBytes { SocketAddress.unix(path: $0) }
    }
    guard let address else { throw StartupError("sensorloop: mqtt: the broker's address cannot be used") }
    // The strings one after another (the client id, the availability topic, the credentials, the
    // two filters), copied into one scratch buffer that outlives `Client.init` (which copies them).
    var strings = m.clientID.bytes
    let idEnd = strings.count
    strings.append(contentsOf: m.topicPrefix.bytes)
    strings.append("/status")
    let availabilityEnd = strings.count
    if let credentials { strings.append(contentsOf: credentials.username) }
    let userEnd = strings.count
    if let credentials { strings.append(contentsOf: credentials.password) }
    let passwordEnd = strings.count
    strings.append(contentsOf: m.topicPrefix.bytes)
    strings.append("/lines/+/set")
    let commandsEnd = strings.count
    strings.append(contentsOf: m.topicPrefix.bytes)
    strings.append("/+/duty/set")
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: strings.count + 1, alignment: 1)
    defer { scratch.deallocate() }
    for (k, byte) in strings.enumerated() { scratch[k] = byte }
    func part(_ start: Int, _ end: Int) -> UnsafeRawBufferPointer {
      UnsafeRawBufferPointer(rebasing: scratch[start..<end])
    }
    var o = ClientOptions(address: address, clientID: part(0, idEnd))
    o.availabilityTopic = part(idEnd, availabilityEnd)
    if case .some = credentials {
      o.username = part(availabilityEnd, userEnd)
      o.password = part(userEnd, passwordEnd)
    }
    let filter = part(passwordEnd, commandsEnd)
    let dutyFilter = part(commandsEnd, strings.count)
    o.keepAliveSeconds = UInt16(m.keepAliveSeconds)
    o.sendBufferBytes = m.sendBufferBytes
    o.receiveBufferBytes = m.receiveBufferBytes
    o.inboxBytes = m.inboxBytes
    o.inflightWindow = m.window
    o.inflightPacketBytes = MQTTConfig.windowPacketBytes
    o.stringBytes = MQTTConfig.stringBytes
    o.reconnectMin = .milliseconds(500)
    o.reconnectMax = .seconds(30)
    o.connectTimeout = .seconds(10)
    var takesDuties = false
    for i in tasks.indices where tasks[i].kind.commandDuty != nil { takesDuties = true }
    let client = try BoardConfig.makeClient(
      o, subscribing: commandableLines.isEmpty ? nil : filter, takesDuties ? dutyFilter : nil)
    let d = m.discovery ? discovery() : nil
    var total = 0
    if let d { for k in d.topics.indices { total += 4 + d.topics[k].count + d.payloads[k].count } }
    var set: RetainedSet
    do { set = try RetainedSet(capacity: total) } catch {
      var e = StartupError("sensorloop: cannot map the MQTT discovery configs")
      e.add(errno: error)
      throw e
    }
    if let d {
      for k in d.topics.indices {
        _ = d.topics[k].withUnsafeBytes { tr in
          d.payloads[k].withUnsafeBytes { pr in set.add(topic: tr, payload: pr) }
        }
      }
    }
    var link = MQTTLink(
      client: client, prefix: m.topicPrefix, qos: UInt8(m.qos), sendBufferBytes: m.sendBufferBytes,
      discovery: set)
    for line in commandableLines { link.commandable[line] = true }
    for i in tasks.indices {
      if let duty = tasks[i].kind.commandDuty { link.duty[i] = Int8(duty) }
    }
    return link
  }

  static func makeClient(
    _ o: ClientOptions, subscribing filter: UnsafeRawBufferPointer?, _ dutyFilter: UnsafeRawBufferPointer?
  ) throws(StartupError) -> Client {
    do throws(Errno) {
      var client = try Client(o, line: FirmwareInterrupt.mqtt)
      if let filter { try client.subscribe(filter) }
      if let dutyFilter { try client.subscribe(dutyFilter) }
      return client
    } catch {
      var e = StartupError("sensorloop: cannot set up the MQTT client")
      e.add(errno: error)
      throw e
    }
  }

  /// The Home Assistant discovery configs (topic, payload), one per entity or trigger: each task's
  /// from its kind's `discover` (Kinds/), then commandable outputs as `switch`; all with the
  /// board's `device` block and the availability topic.
  public func discoveryMessages() -> [(topic: [UInt8], payload: [UInt8])] {
    guard let d = discovery() else { return [] }
    var messages: [(topic: [UInt8], payload: [UInt8])] = []
    for k in d.topics.indices { messages.append((d.topics[k], d.payloads[k])) }
    return messages
  }

  /// The discovery configs laid out, nil without `mqtt`: what `discoveryMessages` returns, in
  /// two arrays (the program reads them from here, with no array of pairs in its binary).
  func discovery() -> Discovery? {
    guard let m = mqtt else { return nil }
    var d = Discovery(
      prefix: m.topicPrefix.bytes, node: m.clientID.bytes, discoveryPrefix: m.discoveryPrefix.bytes,
      device: [])
    d.device = d.text(
      "\"device\":{\"identifiers\":[\"\u{2}\"],\"name\":\"\u{5}\",\"manufacturer\":\"sensorloop\",\"model\":\"sensorloop\",\"sw_version\":\"0.1.0\"}",
      board.bytes)
    for i in tasks.indices {
      tasks[i].kind.discover(&d, tasks[i].name.bytes)
    }
    for line in commandableLines {
      let id = lines[line].id.bytes
      let f = d.text(
        "\"command_topic\":\"\u{1}/lines/\u{5}/set\",\"state_topic\":\"\u{1}/lines/\u{5}/state\",\"payload_on\":\"ON\",\"payload_off\":\"OFF\"",
        id)
      d.add("switch", d.text("line_\u{5}", id), name: id, f)
    }
    return d
  }
}

/// What a kind's `discover` (TaskKindDescription) lays its Home Assistant discovery configs out
/// with: the topics, the entity object around its own fields, the board's device block. The
/// texts are templates (`put`): one literal per config, not a chain of array concatenations.
struct Discovery {
  /// The board's topic prefix (`sensorloop/<board>`).
  let prefix: [UInt8]
  /// The node id (the client id) in discovery topics and unique ids.
  let node: [UInt8]
  /// Home Assistant's discovery prefix (`homeassistant`).
  let discoveryPrefix: [UInt8]
  /// The board's `"device":{...}` block.
  var device: [UInt8]
  /// The configs so far: their topics ...
  var topics: [[UInt8]] = []
  /// ... and their payloads.
  var payloads: [[UInt8]] = []

  /// Appends `template` to `text`, its placeholder bytes replaced: 1 the prefix, 2 the node, 3
  /// the discovery prefix, 4 the device block, 5 `a`, 6 `b`, 7 `s`, 8 `t`.
  @inline(never)
  func put(
    _ template: StaticString, _ a: [UInt8] = [], _ b: [UInt8] = [], _ s: StaticString = "",
    _ t: StaticString = "", into text: inout [UInt8]
  ) {
    template.withUTF8Buffer { buffer in
      for byte in buffer {
        switch byte {
        case 1: text.append(contentsOf: prefix)
        case 2: text.append(contentsOf: node)
        case 3: text.append(contentsOf: discoveryPrefix)
        case 4: text.append(contentsOf: device)
        case 5: text.append(contentsOf: a)
        case 6: text.append(contentsOf: b)
        case 7: text.append(s)
        case 8: text.append(t)
        default: text.append(byte: byte)
        }
      }
    }
  }

  /// `template` with its placeholders replaced (`put`).
  @inline(never)
  func text(
    _ template: StaticString, _ a: [UInt8] = [], _ b: [UInt8] = [], _ s: StaticString = "",
    _ t: StaticString = ""
  ) -> [UInt8] {
    var text: [UInt8] = []
    put(template, a, b, s, t, into: &text)
    return text
  }

  /// `"command_topic":"<prefix>/<task>/duty/set",` and the duty's state topic (`extra`, such as
  /// a value template when the state is a JSON record, after it), 0–100 %.
  func dutyNumber(_ task: [UInt8], _ extra: StaticString = "") -> [UInt8] {
    text(
      "\"command_topic\":\"\u{1}/\u{5}/duty/set\",\"state_topic\":\"\u{1}/\u{5}/duty\"\u{7},\"min\":0,\"max\":100,\"step\":1,\"unit_of_measurement\":\"%\",\"mode\":\"slider\"",
      task, [], extra)
  }

  /// A reading sensor's fields: the state topic of task `task`'s readings, the value template
  /// (`value`, else `value_json.value`), and the unit with the device class and state class Home
  /// Assistant expects for it, where the unit says it.
  @inline(never)
  func sensorFields(_ task: [UInt8], _ unit: [UInt8], value: [UInt8] = []) -> [UInt8] {
    var f = text(
      "\"state_topic\":\"\u{1}/\u{5}/reading\",\"value_template\":\"{{ value_json.\u{6}\u{7} }}\"", task,
      value, value.isEmpty ? "value" : "")
    let (haUnit, deviceClass, total) = MQTTConfig.homeAssistantUnit(unit)
    if !haUnit.isEmpty { put(",\"unit_of_measurement\":\"\u{5}\"", haUnit, into: &f) }
    if !deviceClass.isEmpty { put(",\"device_class\":\"\u{5}\"", deviceClass, into: &f) }
    put(",\"state_class\":\"\u{7}\"", [], [], total ? "total_increasing" : "measurement", into: &f)
    return f
  }

  /// Adds an entity of `component` (`sensor`, `number` ...) for `object` (its unique id is
  /// `<node>_<object>`), named `name`, with `fields`, the availability topic and the device.
  @inline(never)
  mutating func add(_ component: StaticString, _ object: [UInt8], name: [UInt8], _ fields: [UInt8]) {
    var p = text("{\"name\":\"\u{5}\",\"unique_id\":\"\u{2}_\u{6}\",", name, object)
    put("\u{5},\"availability_topic\":\"\u{1}/status\",\u{4}}", fields, into: &p)
    topics.append(text("\u{3}/\u{7}/\u{2}/\u{5}/config", object, [], component))
    payloads.append(p)
  }

  /// Adds a `binary_sensor` for task `name`, whose `on`/`off` records are on `<task>/state`.
  mutating func binarySensor(_ name: [UInt8]) {
    add(
      "binary_sensor", name, name: name,
      text(
        "\"state_topic\":\"\u{1}/\u{5}/state\",\"value_template\":\"{{ value_json.event }}\",\"payload_on\":\"on\",\"payload_off\":\"off\"",
        name))
  }

  /// Adds a device trigger: `<prefix>/<task>/<event>` as Home Assistant trigger `type`.
  @inline(never)
  mutating func trigger(_ task: [UInt8], _ event: StaticString, type: StaticString) {
    let p = text(
      "{\"automation_type\":\"trigger\",\"topic\":\"\u{1}/\u{5}/\u{7}\",\"type\":\"\u{8}\",\"subtype\":\"\u{5}\",\u{4}}",
      task, [], event, type)
    topics.append(text("\u{3}/device_automation/\u{2}/\u{5}_\u{7}/config", task, [], event))
    payloads.append(p)
  }
}

extension MQTTConfig {
  /// The unit a `sensor` task's channel is reported in, as its records write it (SensorSources'
  /// tables: the same function the task's setup reads); empty when the driver's type has none.
  static func sensorUnit(_ preset: SensorPreset, _ channel: Name?) -> [UInt8] {
    switch preset {
    case .ds18b20: return bytes("°C")
    case .iio: return channel.map { SensorResolver.unit(iioChannel: $0).bytes } ?? []
    case .hwmon: return channel.map { SensorResolver.unit(hwmonInput: $0).bytes } ?? []
    }
  }

  /// The unit as Home Assistant spells it, the device class it implies (empty when none does)
  /// and whether its state class is `total_increasing` (energy; else `measurement`).
  static func homeAssistantUnit(_ unit: [UInt8]) -> (unit: [UInt8], deviceClass: [UInt8], total: Bool) {
    // The units by device class (`unitClasses`), one group per class, `;` between groups.
    let groups: StaticString =
      "C °C degC celsius;F °F;%RH %rh;hPa Pa kPa mbar bar psi mmHg inHg;V mV;A mA;W kW;Wh kWh;m/s km/h mph kn;Hz kHz;lx;mm/h"
    let unitClasses: Words =
      "temperature temperature humidity pressure voltage current power energy wind_speed frequency illuminance precipitation_intensity"
    if let group = unitGroup(unit, groups) {
      let spelled: [UInt8]
      switch group {
      case 0: spelled = bytes("°C")
      case 1: spelled = bytes("°F")
      case 2: spelled = bytes("%")
      default: spelled = unit
      }
      return (spelled, unitClasses.list[group], group == 7)
    }
    // Any other unit is shown as written, with no device class (Home Assistant checks a
    // device class's units and would refuse the entity).
    var clean: [UInt8] = []
    for byte in unit where byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
      clean.append(byte: byte)
    }
    return (clean, [], false)
  }

  /// The group of `groups` (words separated by spaces, groups by `;`) that has `unit` as a word.
  static func unitGroup(_ unit: [UInt8], _ groups: StaticString) -> Int? {
    groups.withUTF8Buffer { text in
      var group = 0
      var start = 0
      for end in 0...text.count {
        let byte = end < text.count ? text[end] : UInt8(ascii: ";")
        guard byte == UInt8(ascii: " ") || byte == UInt8(ascii: ";") else { continue }
        if end - start == unit.count && unit.indices.allSatisfy({ unit[$0] == text[start + $0] }) {
          return group
        }
        if byte == UInt8(ascii: ";") { group += 1 }
        start = end + 1
      }
      return nil
    }
  }
}
