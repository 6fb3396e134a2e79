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

  /// The software PWM tasks (index, configured duty): their duty is a command.
  public var pwmTasks: [(Int, Int)] {
    tasks.indices.compactMap { i in
      if case .pwm(let p) = tasks[i].kind { return (i, p.dutyPercent) }
      return nil
    }
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

  /// The Home Assistant discovery configs (topic, payload), one per entity or trigger:
  /// readings as `sensor`, the encoder's position as `sensor`, a threshold's state as
  /// `binary_sensor`, a button's press, release and long press as device triggers, commandable
  /// outputs as `switch`, a software PWM's duty as `number`, a `sensor` task's values as one
  /// `sensor` each, a `switch` task's state as `binary_sensor`, a curve's and a hardware PWM's
  /// duty as `sensor`; all with the board's `device` block and the availability topic.
  public func discoveryMessages() -> [(topic: [UInt8], payload: [UInt8])] {
    guard let m = mqtt else { return [] }
    var out: [(topic: [UInt8], payload: [UInt8])] = []
    let prefix = m.topicPrefix.bytes
    let node = m.clientID.bytes
    func topic(_ component: StaticString, _ object: [UInt8]) -> [UInt8] {
      m.discoveryPrefix.bytes + bytes("/") + bytes(component) + bytes("/") + node + [UInt8(ascii: "/")]
        + object
        + bytes("/config")
    }
    var device = bytes("\"device\":{\"identifiers\":[\"") + node + bytes("\"],\"name\":\"")
    device += board.bytes
    device += bytes("\",\"manufacturer\":\"sensorloop\",\"model\":\"sensorloop\",\"sw_version\":\"0.1.0\"}")
    let availability =
      bytes("\"availability_topic\":\"") + prefix + bytes("/status\"")
    func entity(_ name: [UInt8], _ uniqueSuffix: [UInt8], _ fields: [UInt8]) -> [UInt8] {
      var p = bytes("{\"name\":\"") + name + bytes("\",\"unique_id\":\"") + node
      p += [UInt8(ascii: "_")] + uniqueSuffix + bytes("\",") + fields + [UInt8(ascii: ",")]
      p += availability + [UInt8(ascii: ",")] + device + [UInt8(ascii: "}")]
      return p
    }
    func state(_ task: [UInt8], _ event: StaticString) -> [UInt8] {
      bytes("\"state_topic\":\"") + prefix + [UInt8(ascii: "/")] + task + bytes("/") + bytes(event)
        + bytes("\"")
    }
    for i in tasks.indices {
      let name = tasks[i].name.bytes
      switch tasks[i].kind {
      case .sampler(let s):
        out.append(
          (topic("sensor", name), entity(name, name, sensorFields(state(name, "reading"), s.unit.bytes))))
      case .pulseCounter(let p):
        out.append(
          (topic("sensor", name), entity(name, name, sensorFields(state(name, "reading"), p.unit.bytes))))
      case .encoder:
        var f = state(name, "step")
        f += bytes(",\"value_template\":\"{{ value_json.position }}\",\"state_class\":\"measurement\"")
        out.append((topic("sensor", name), entity(name, name, f)))
      case .threshold:
        var f = state(name, "state")
        f += bytes(
          ",\"value_template\":\"{{ value_json.event }}\",\"payload_on\":\"on\",\"payload_off\":\"off\"")
        out.append((topic("binary_sensor", name), entity(name, name, f)))
      case .button(let b):
        var events: [(StaticString, StaticString)] = [
          ("press", "button_short_press"), ("release", "button_short_release"),
        ]
        if b.longPress != nil { events.append(("long_press", "button_long_press")) }
        for (event, type) in events {
          var p = bytes("{\"automation_type\":\"trigger\",\"topic\":\"") + prefix + [UInt8(ascii: "/")]
          p +=
            name + bytes("/") + bytes(event) + bytes("\",\"type\":\"") + bytes(type)
            + bytes("\",\"subtype\":\"") + name
          p += bytes("\",") + device + [UInt8(ascii: "}")]
          out.append((topic("device_automation", name + bytes("_") + bytes(event)), p))
        }
      case .pwm:
        var f =
          bytes("\"command_topic\":\"") + prefix + [UInt8(ascii: "/")] + name
          + bytes("/duty/set\",")
        f += state(name, "duty")
        f += bytes(",\"min\":0,\"max\":100,\"step\":1,\"unit_of_measurement\":\"%\",\"mode\":\"slider\"")
        out.append((topic("number", name), entity(name, name, f)))
      case .sensor(let c):
        // One value: `value` and `unit`, as a sampler's. Several: one sensor per value, under
        // its record key.
        if c.keys.count == 1 {
          let unit = bytes(
            MQTTConfig.sensorUnit(c.preset, c.channels.count > 0 ? c.channels[0].bytes : []))
          out.append((topic("sensor", name), entity(name, name, sensorFields(state(name, "reading"), unit))))
        } else {
          for k in c.keys.indices {
            let key = c.keys[k].bytes
            let unit = bytes(
              MQTTConfig.sensorUnit(c.preset, k < c.channels.count ? c.channels[k].bytes : []))
            let f = sensorFields(state(name, "reading"), unit, value: key)
            let object = name + [UInt8(ascii: "_")] + key
            out.append((topic("sensor", object), entity(name + [UInt8(ascii: " ")] + key, object, f)))
          }
        }
      case .outputSwitch:
        // Read-only: the switch's line is its task's (a command would be overwritten at the
        // next press); its state is the task's `on`/`off` record on `<task>/state`.
        var f = state(name, "state")
        f += bytes(
          ",\"value_template\":\"{{ value_json.event }}\",\"payload_on\":\"on\",\"payload_off\":\"off\"")
        out.append((topic("binary_sensor", name), entity(name, name, f)))
      case .curve, .pwmHardware:
        // The duty the curve set, or the hardware PWM's duty as its task reports it.
        var f = state(name, "duty")
        f += bytes(
          ",\"value_template\":\"{{ value_json.duty_percent }}\",\"unit_of_measurement\":\"%\",\"state_class\":\"measurement\""
        )
        out.append((topic("sensor", name), entity(name, name, f)))
      default: break
      }
    }
    for line in commandableLines {
      let id = lines[line].id.bytes
      var f = bytes("\"command_topic\":\"") + prefix + bytes("/lines/") + id + bytes("/set\",")
      f += bytes("\"state_topic\":\"") + prefix + bytes("/lines/") + id + bytes("/state\"")
      f += bytes(",\"payload_on\":\"ON\",\"payload_off\":\"OFF\"")
      out.append((topic("switch", bytes("line_") + id), entity(id, bytes("line_") + id, f)))
    }
    return out
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
}

extension MQTTConfig {
  /// The unit a `sensor` task's channel is reported in (SensorSources.swift's tables), as
  /// its records write it; "" when the driver's type has no unit there. (Bytes compared, not
  /// `String`s: String comparison needs Unicode normalisation, which the Embedded stdlib of the
  /// board build does not have.)
  static func sensorUnit(_ preset: SensorPreset, _ channel: [UInt8]) -> StaticString {
    func starts(_ prefix: StaticString) -> Bool {
      prefix.withUTF8Buffer { p in channel.count >= p.count && bytesEqual(channel[0..<p.count], prefix) }
    }
    switch preset {
    case .ds18b20: return "°C"
    case .iio:
      if starts("in_temp") { return "°C" }
      if starts("in_humidityrelative") { return "%RH" }
      if starts("in_pressure") { return "kPa" }
      if starts("in_voltage") { return "V" }
      if starts("in_current") { return "A" }
      return ""
    case .hwmon:
      if starts("temp") { return "°C" }
      if starts("in") { return "V" }
      if starts("curr") { return "A" }
      if starts("power") { return "W" }
      if starts("energy") { return "J" }
      if starts("humidity") { return "%RH" }
      if starts("fan") { return "RPM" }
      return ""
    }
  }

  /// The unit as Home Assistant spells it, the device class it implies (nil when none does)
  /// and the state class (`measurement`; `total_increasing` for energy).
  static func homeAssistantUnit(_ unit: [UInt8]) -> (
    unit: [UInt8], deviceClass: StaticString?, stateClass: StaticString
  ) {
    func one(of names: [StaticString]) -> Bool { names.contains { bytesEqual(unit[...], $0) } }
    if one(of: ["C", "°C", "degC", "celsius"]) { return (bytes("°C"), "temperature", "measurement") }
    if one(of: ["F", "°F"]) { return (bytes("°F"), "temperature", "measurement") }
    if one(of: ["%RH", "%rh"]) { return (bytes("%"), "humidity", "measurement") }
    if one(of: ["hPa", "Pa", "kPa", "mbar", "bar", "psi", "mmHg", "inHg"]) {
      return (unit, "pressure", "measurement")
    }
    if one(of: ["V", "mV"]) { return (unit, "voltage", "measurement") }
    if one(of: ["A", "mA"]) { return (unit, "current", "measurement") }
    if one(of: ["W", "kW"]) { return (unit, "power", "measurement") }
    if one(of: ["Wh", "kWh"]) { return (unit, "energy", "total_increasing") }
    if one(of: ["m/s", "km/h", "mph", "kn"]) { return (unit, "wind_speed", "measurement") }
    if one(of: ["Hz", "kHz"]) { return (unit, "frequency", "measurement") }
    if one(of: ["lx"]) { return (unit, "illuminance", "measurement") }
    if one(of: ["mm/h"]) { return (unit, "precipitation_intensity", "measurement") }
    // Any other unit is shown as written, with no device class (Home Assistant checks a
    // device class's units and would refuse the entity).
    let clean = unit.filter { $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    return (clean, nil, "measurement")
  }
}
