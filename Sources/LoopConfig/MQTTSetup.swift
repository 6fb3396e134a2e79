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
  /// outputs as `switch`, a software PWM's duty as `number`; all with the board's `device` block and the availability topic.
  public func discoveryMessages() -> [(topic: [UInt8], payload: [UInt8])] {
    guard let m = mqtt else { return [] }
    // Built by appending literals to one array at a time: chains of `+` on arrays were
    // compiled into many temporary arrays each (startup-only code, but bytes in the binary).
    var out: [(topic: [UInt8], payload: [UInt8])] = []
    let prefix = m.topicPrefix.bytes
    let node = m.clientID.bytes
    let discoveryPrefix = m.discoveryPrefix.bytes
    func topic(_ component: StaticString, _ object: [UInt8], _ suffix: StaticString = "") -> [UInt8] {
      var t = discoveryPrefix
      t.append("/")
      t.append(component)
      t.append("/")
      t += node
      t.append("/")
      t += object
      t.append(suffix)
      t.append("/config")
      return t
    }
    var device: [UInt8] = []
    device.append("\"device\":{\"identifiers\":[\"")
    device += node
    device.append("\"],\"name\":\"")
    device += board.bytes
    device.append("\",\"manufacturer\":\"sensorloop\",\"model\":\"sensorloop\",\"sw_version\":\"0.1.0\"}")
    var availability: [UInt8] = []
    availability.append("\"availability_topic\":\"")
    availability += prefix
    availability.append("/status\"")
    func entity(_ name: [UInt8], _ uniqueSuffix: StaticString, _ unique: [UInt8], _ fields: [UInt8])
      -> [UInt8]
    {
      var p: [UInt8] = []
      p.append("{\"name\":\"")
      p += name
      p.append("\",\"unique_id\":\"")
      p += node
      p.append("_")
      p.append(uniqueSuffix)
      p += unique
      p.append("\",")
      p += fields
      p.append(",")
      p += availability
      p.append(",")
      p += device
      p.append("}")
      return p
    }
    func state(_ task: [UInt8], _ event: StaticString) -> [UInt8] {
      var f: [UInt8] = []
      f.append("\"state_topic\":\"")
      f += prefix
      f.append("/")
      f += task
      f.append("/")
      f.append(event)
      f.append("\"")
      return f
    }
    for i in tasks.indices {
      let name = tasks[i].name.bytes
      switch tasks[i].kind {
      case .sampler(let s):
        out.append(
          (topic("sensor", name), entity(name, "", name, sensorFields(state(name, "reading"), s.unit.bytes))))
      case .pulseCounter(let p):
        out.append(
          (topic("sensor", name), entity(name, "", name, sensorFields(state(name, "reading"), p.unit.bytes))))
      case .encoder:
        var f = state(name, "step")
        f.append(",\"value_template\":\"{{ value_json.position }}\",\"state_class\":\"measurement\"")
        out.append((topic("sensor", name), entity(name, "", name, f)))
      case .threshold:
        var f = state(name, "state")
        f.append(
          ",\"value_template\":\"{{ value_json.event }}\",\"payload_on\":\"on\",\"payload_off\":\"off\"")
        out.append((topic("binary_sensor", name), entity(name, "", name, f)))
      case .button(let b):
        let events: [(StaticString, StaticString)] = [
          ("press", "button_short_press"), ("release", "button_short_release"),
          ("long_press", "button_long_press"),
        ]
        for (event, type) in events.prefix(b.longPress != nil ? 3 : 2) {
          var p: [UInt8] = []
          p.append("{\"automation_type\":\"trigger\",\"topic\":\"")
          p += prefix
          p.append("/")
          p += name
          p.append("/")
          p.append(event)
          p.append("\",\"type\":\"")
          p.append(type)
          p.append("\",\"subtype\":\"")
          p += name
          p.append("\",")
          p += device
          p.append("}")
          var object = name
          object.append("_")
          object.append(event)
          out.append((topic("device_automation", object), p))
        }
      case .pwm:
        var f: [UInt8] = []
        f.append("\"command_topic\":\"")
        f += prefix
        f.append("/")
        f += name
        f.append("/duty/set\",")
        f += state(name, "duty")
        f.append(",\"min\":0,\"max\":100,\"step\":1,\"unit_of_measurement\":\"%\",\"mode\":\"slider\"")
        out.append((topic("number", name), entity(name, "", name, f)))
      default: break
      }
    }
    for line in commandableLines {
      let id = lines[line].id.bytes
      var f: [UInt8] = []
      f.append("\"command_topic\":\"")
      f += prefix
      f.append("/lines/")
      f += id
      f.append("/set\",\"state_topic\":\"")
      f += prefix
      f.append("/lines/")
      f += id
      f.append("/state\",\"payload_on\":\"ON\",\"payload_off\":\"OFF\"")
      var object: [UInt8] = []
      object.append("line_")
      object += id
      out.append((topic("switch", object), entity(id, "line_", id, f)))
    }
    return out
  }

  /// A reading sensor's fields: its state topic, the value template, and the unit with the
  /// device class and state class Home Assistant expects for it, where the unit says it.
  func sensorFields(_ stateTopic: [UInt8], _ unit: [UInt8]) -> [UInt8] {
    var f = stateTopic
    f.append(",\"value_template\":\"{{ value_json.value }}\"")
    let (haUnit, deviceClass, stateClass) = MQTTConfig.homeAssistantUnit(unit)
    if !haUnit.isEmpty {
      f.append(",\"unit_of_measurement\":\"")
      f += haUnit
      f.append("\"")
    }
    if let deviceClass {
      f.append(",\"device_class\":\"")
      f.append(deviceClass)
      f.append("\"")
    }
    f.append(",\"state_class\":\"")
    f.append(stateClass)
    f.append("\"")
    return f
  }
}

extension MQTTConfig {
  /// The unit as Home Assistant spells it, the device class it implies (nil when none does)
  /// and the state class (`measurement`; `total_increasing` for energy).
  static func homeAssistantUnit(_ unit: [UInt8]) -> (
    unit: [UInt8], deviceClass: StaticString?, stateClass: StaticString
  ) {
    // Compared as bytes, not as a String: a String switch links Unicode normalisation into
    // the Embedded board binary (and its tables, which the Embedded stdlib does not have).
    func isOne(of names: StaticString...) -> Bool {
      for name in names where bytesEqual(unit[...], name) { return true }
      return false
    }
    if isOne(of: "C", "°C", "degC", "celsius") { return (bytes("°C"), "temperature", "measurement") }
    if isOne(of: "F", "°F") { return (bytes("°F"), "temperature", "measurement") }
    if isOne(of: "%RH", "%rh") { return (bytes("%"), "humidity", "measurement") }
    if isOne(of: "hPa", "Pa", "kPa", "mbar", "bar", "psi", "mmHg", "inHg") {
      return (unit, "pressure", "measurement")
    }
    if isOne(of: "V", "mV") { return (unit, "voltage", "measurement") }
    if isOne(of: "A", "mA") { return (unit, "current", "measurement") }
    if isOne(of: "W", "kW") { return (unit, "power", "measurement") }
    if isOne(of: "Wh", "kWh") { return (unit, "energy", "total_increasing") }
    if isOne(of: "m/s", "km/h", "mph", "kn") { return (unit, "wind_speed", "measurement") }
    if isOne(of: "Hz", "kHz") { return (unit, "frequency", "measurement") }
    if isOne(of: "lx") { return (unit, "illuminance", "measurement") }
    if isOne(of: "mm/h") { return (unit, "precipitation_intensity", "measurement") }
    // Any other unit is shown as written, with no device class (Home Assistant checks a
    // device class's units and would refuse the entity).
    let clean = unit.filter { $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    return (clean, nil, "measurement")
  }
}
