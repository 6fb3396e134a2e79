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
  /// duty).
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
    let id = m.clientID.bytes
    var availability = m.topicPrefix.bytes
    availability.append(contentsOf: bytes("/status"))
    var commands = m.topicPrefix.bytes
    commands.append(contentsOf: bytes("/lines/+/set"))
    var duties = m.topicPrefix.bytes
    duties.append(contentsOf: bytes("/+/duty/set"))
    let user = credentials?.username ?? []
    let pass = credentials?.password ?? []
    // The strings, copied into one scratch buffer that outlives `Client.init` (which copies them).
    let scratch = UnsafeMutableRawBufferPointer.allocate(
      byteCount: id.count + availability.count + user.count + pass.count + commands.count + duties.count + 1,
      alignment: 1)
    defer { scratch.deallocate() }
    var used = 0
    func place(_ b: [UInt8]) -> UnsafeRawBufferPointer {
      let start = used
      for (k, byte) in b.enumerated() { scratch[start + k] = byte }
      used += b.count
      return UnsafeRawBufferPointer(rebasing: scratch[start..<(start + b.count)])
    }
    var o = ClientOptions(address: address, clientID: place(id))
    o.availabilityTopic = place(availability)
    if credentials != nil {
      o.username = place(user)
      o.password = place(pass)
    }
    let filter = place(commands)
    let dutyFilter = place(duties)
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
    let client = try BoardConfig.makeClient(
      o, subscribing: commandableLines.isEmpty ? nil : filter, pwmTasks.isEmpty ? nil : dutyFilter)
    let messages = m.discovery ? discoveryMessages() : []
    var total = 0
    for (t, p) in messages { total += 4 + t.count + p.count }
    var set: RetainedSet
    do { set = try RetainedSet(capacity: total) } catch {
      var e = StartupError("sensorloop: cannot map the MQTT discovery configs")
      e.add(errno: error)
      throw e
    }
    for (t, p) in messages {
      _ = t.withUnsafeBytes { tr in p.withUnsafeBytes { pr in set.add(topic: tr, payload: pr) } }
    }
    var link = MQTTLink(
      client: client, prefix: m.topicPrefix, qos: UInt8(m.qos), sendBufferBytes: m.sendBufferBytes,
      discovery: set)
    for line in commandableLines { link.commandable[line] = true }
    for (task, duty) in pwmTasks { link.duty[task] = Int8(duty) }
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
    guard let m = mqtt else { return [] }
    let node = m.clientID.bytes
    var device = bytes("\"device\":{\"identifiers\":[\"") + node + bytes("\"],\"name\":\"")
    device += board.bytes
    device += bytes("\",\"manufacturer\":\"sensorloop\",\"model\":\"sensorloop\",\"sw_version\":\"0.1.0\"}")
    var d = Discovery(
      prefix: m.topicPrefix.bytes, node: node, discoveryPrefix: m.discoveryPrefix.bytes, device: device)
    for i in tasks.indices {
      tasks[i].kind.discover(&d, tasks[i].name.bytes)
    }
    for line in commandableLines {
      let id = lines[line].id.bytes
      var f =
        bytes("\"command_topic\":\"") + d.prefix + bytes("/lines/") + id + bytes("/set\",")
      f += bytes("\"state_topic\":\"") + d.prefix + bytes("/lines/") + id + bytes("/state\"")
      f += bytes(",\"payload_on\":\"ON\",\"payload_off\":\"OFF\"")
      d.add("switch", bytes("line_") + id, name: id, f)
    }
    return d.out
  }
}

/// What a kind's `discover` (TaskKindDescription) lays its Home Assistant discovery configs out
/// with: the topics, the entity object around its own fields, the board's device block.
struct Discovery {
  /// The board's topic prefix (`sensorloop/<board>`).
  let prefix: [UInt8]
  /// The node id (the client id) in discovery topics and unique ids.
  let node: [UInt8]
  /// Home Assistant's discovery prefix (`homeassistant`).
  let discoveryPrefix: [UInt8]
  /// The board's `"device":{...}` block.
  let device: [UInt8]
  /// The configs so far (topic, payload).
  var out: [(topic: [UInt8], payload: [UInt8])] = []

  /// `<discovery prefix>/<component>/<node>/<object>/config`.
  func topic(_ component: StaticString, _ object: [UInt8]) -> [UInt8] {
    discoveryPrefix + [UInt8(ascii: "/")] + bytes(component) + [UInt8(ascii: "/")] + node
      + [UInt8(ascii: "/")] + object + bytes("/config")
  }

  /// `"state_topic":"<prefix>/<task>/<event>"`.
  func state(_ task: [UInt8], _ event: StaticString) -> [UInt8] {
    bytes("\"state_topic\":\"") + prefix + [UInt8(ascii: "/")] + task + [UInt8(ascii: "/")]
      + bytes(event)
      + [UInt8(ascii: "\"")]
  }

  /// `"command_topic":"<prefix>/<task>/duty/set",` and the duty's state topic (read with
  /// `valueTemplate` when the state is a JSON record), 0–100 %.
  func dutyNumber(_ task: [UInt8], valueTemplate: StaticString? = nil) -> [UInt8] {
    var f =
      bytes("\"command_topic\":\"") + prefix + [UInt8(ascii: "/")] + task + bytes("/duty/set\",")
    f += state(task, "duty")
    if let valueTemplate {
      f += bytes(",\"value_template\":\"") + bytes(valueTemplate) + [UInt8(ascii: "\"")]
    }
    f += bytes(",\"min\":0,\"max\":100,\"step\":1,\"unit_of_measurement\":\"%\",\"mode\":\"slider\"")
    return f
  }

  /// A reading sensor's fields: its state topic, the value template, and the unit with the
  /// device class and state class Home Assistant expects for it, where the unit says it.
  func sensorFields(_ stateTopic: [UInt8], _ unit: [UInt8], value: [UInt8] = bytes("value")) -> [UInt8] {
    var f = stateTopic + bytes(",\"value_template\":\"{{ value_json.") + value + bytes(" }}\"")
    let (haUnit, deviceClass, stateClass) = MQTTConfig.homeAssistantUnit(unit)
    if !haUnit.isEmpty { f += bytes(",\"unit_of_measurement\":\"") + haUnit + [UInt8(ascii: "\"")] }
    if let deviceClass { f += bytes(",\"device_class\":\"") + bytes(deviceClass) + [UInt8(ascii: "\"")] }
    f += bytes(",\"state_class\":\"") + bytes(stateClass) + [UInt8(ascii: "\"")]
    return f
  }

  /// Adds an entity of `component` (`sensor`, `number` ...) for `object` (its unique id is
  /// `<node>_<object>`), named `name`, with `fields`, the availability topic and the device.
  mutating func add(_ component: StaticString, _ object: [UInt8], name: [UInt8], _ fields: [UInt8]) {
    var p = bytes("{\"name\":\"") + name + bytes("\",\"unique_id\":\"") + node
    p += [UInt8(ascii: "_")] + object + bytes("\",") + fields + [UInt8(ascii: ",")]
    p += bytes("\"availability_topic\":\"") + prefix + bytes("/status\"") + [UInt8(ascii: ",")]
    p += device + [UInt8(ascii: "}")]
    out.append((topic(component, object), p))
  }

  /// Adds a device trigger: `<prefix>/<task>/<event>` as Home Assistant trigger `type`.
  mutating func trigger(_ task: [UInt8], _ event: StaticString, type: StaticString) {
    var p = bytes("{\"automation_type\":\"trigger\",\"topic\":\"") + prefix + [UInt8(ascii: "/")]
    p += task + [UInt8(ascii: "/")] + bytes(event) + bytes("\",\"type\":\"") + bytes(type)
    p += bytes("\",\"subtype\":\"") + task + bytes("\",") + device + [UInt8(ascii: "}")]
    out.append((topic("device_automation", task + [UInt8(ascii: "_")] + bytes(event)), p))
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

  /// The unit as Home Assistant spells it, the device class it implies (nil when none does)
  /// and the state class (`measurement`; `total_increasing` for energy).
  static func homeAssistantUnit(_ unit: [UInt8]) -> (
    unit: [UInt8], deviceClass: StaticString?, stateClass: StaticString
  ) {
    func one(of names: Words) -> Bool { names.index(of: unit[...]) != nil }
    if one(of: "C °C degC celsius") { return (bytes("°C"), "temperature", "measurement") }
    if one(of: "F °F") { return (bytes("°F"), "temperature", "measurement") }
    if one(of: "%RH %rh") { return (bytes("%"), "humidity", "measurement") }
    if one(of: "hPa Pa kPa mbar bar psi mmHg inHg") {
      return (unit, "pressure", "measurement")
    }
    if one(of: "V mV") { return (unit, "voltage", "measurement") }
    if one(of: "A mA") { return (unit, "current", "measurement") }
    if one(of: "W kW") { return (unit, "power", "measurement") }
    if one(of: "Wh kWh") { return (unit, "energy", "total_increasing") }
    if one(of: "m/s km/h mph kn") { return (unit, "wind_speed", "measurement") }
    if one(of: "Hz kHz") { return (unit, "frequency", "measurement") }
    if one(of: "lx") { return (unit, "illuminance", "measurement") }
    if one(of: "mm/h") { return (unit, "precipitation_intensity", "measurement") }
    // Any other unit is shown as written, with no device class (Home Assistant checks a
    // device class's units and would refuse the entity).
    let clean = unit.filter { $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    return (clean, nil, "measurement")
  }
}
