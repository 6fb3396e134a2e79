// The sensor kind: a sensor named the way its kernel driver names it (a DS18B20 on 1-Wire, an
// IIO device such as a BME280, an ADS1115 or an MCP3008, a hwmon input), found when the program
// starts and read every period through the worker threads, with a filter chain per value. One
// task reports up to four values of one device in one record.
// {"name": "air", "kind": "sensor", "period_ms": 10000,
//  "source": {"preset": "iio", "device": "bme280", "channels": ["in_temp", "in_humidityrelative", "in_pressure"]},
//  "filters": {"humidity": [{"kind": "delta", "minimum": 1}, {"kind": "heartbeat", "interval_ms": 60000}]}}

import LoopCore
import LoopLinux
import LoopTasks

/// Reads a sensor found by its driver's names every period; each value through its filters.
public struct SensorConfig: Equatable, Sendable {
  /// How the source is found.
  public var preset: SensorPreset
  /// ds18b20: the sensor's id (empty: the only one on the bus); iio and hwmon: the device's
  /// `name` (or IIO `label`).
  public var device: Name
  /// iio: the channels (`in_temp`); hwmon: the inputs (`temp1_input`); empty for ds18b20.
  /// (On the heap, as are the keys, filters and sysfs root: inline they made every `TaskConfig`
  /// over 1 KB.)
  public var channels: HeapList<Name>
  /// The key each value has in a record (`temperature`, `voltage0`, `temp1`), by channel.
  public var keys: HeapList<Name>
  /// How often it is read.
  public var period: Duration
  /// Each value's filter chain, by channel.
  public var filters: HeapList<HeapList<FilterSpec>>
  /// Where sysfs is mounted: `/sys` on a board, a fake tree in tests.
  public var sysfsRoot: Path {
    get { root.text }
    set { root = HeapText(newValue) }
  }
  private var root: HeapText<256>

  init(
    preset: SensorPreset, device: Name, channels: HeapList<Name>, keys: HeapList<Name>, period: Duration,
    filters: HeapList<HeapList<FilterSpec>>, sysfsRoot: Path
  ) {
    self.preset = preset
    self.device = device
    self.channels = channels
    self.keys = keys
    self.period = period
    self.filters = filters
    self.root = HeapText(sysfsRoot)
  }
}

extension SensorConfig: TaskKindDescription {
  static var name: StaticString { "sensor" }
  static var what: StaticString { "a sensor task" }
  static var keys: StaticString { "source period_ms filters" }
  static var makesReadings: Bool { true }
  static var isPeriodic: Bool { true }

  static var presets: StaticString { "ds18b20 iio hwmon" }
  static var filterKinds: StaticString {
    "average median exponential throttle delta heartbeat clamp calibrate"
  }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let element = task.node
    var before = 0
    for i in v.scope.tasks.indices {
      if v.taskKindIndex(i) == SensorConfig.kindIndex { before += 1 }
    }
    if before == FirmwareLimits.sensors {
      throw v.error(
        .capacity, at: element,
        bytes("a sensor task too many: the firmware holds ", FirmwareLimits.sensors, " (the fixed capacity)"))
    }
    guard let node = v.doc.member(element, "source") else {
      throw v.missing(element, "source", "a source object such as {\"preset\": \"ds18b20\"}")
    }
    let mark = v.push("source")
    var config = try readSource(&v, node)
    v.pop(mark)
    config.period = try v.milliseconds(element, "period_ms", 1...3_600_000, default: 1000)
    config.filters = try readFilters(&v, element, keys: config.keys)
    return config
  }

  /// The `source` object.
  static func readSource(_ v: inout Validator, _ node: Int) throws(ConfigError) -> SensorConfig {
    guard v.kind(node) == .object else {
      throw v.mismatch(
        .type, at: node,
        expected:
          "a source object ({\"preset\": \"iio\", \"device\": \"bme280\", \"channels\": [\"in_temp\"]})")
    }
    let index = try v.choice(node, "preset", presets, default: nil)
    var config = SensorConfig(
      preset: .ds18b20, device: Name(), channels: HeapList(), keys: HeapList(), period: .seconds(1),
      filters: HeapList(), sysfsRoot: Path("/sys"))
    switch index {
    case 0:
      try v.checkObject(
        node, allowed: "preset id sysfs_root", what: "a ds18b20 source",
        example: "{\"preset\": \"ds18b20\", \"id\": \"28-0000075c293f\"}")
      if let id = v.doc.member(node, "id") {
        let mark = v.push("id")
        defer { v.pop(mark) }
        let text = v.kind(id) == .string ? Name(v.doc.string(id)) : nil
        guard let text, SensorResolver.isThermID(text) else {
          throw v.mismatch(
            v.kind(id) == .string ? .range : .type, at: id,
            expected: bytes(
              "a 1-Wire temperature sensor's id: its family (10, 22, 28, 3b or 42), '-' and 12 hex digits, as in /sys/bus/w1/devices (\"28-0000075c293f\")"
            ))
        }
        config.device = text
      }
      config.keys.append(Name("temperature"))
    case 1:
      config.preset = .iio
      try v.checkObject(
        node, allowed: "preset device channels sysfs_root", what: "an iio source",
        example: "{\"preset\": \"iio\", \"device\": \"ads1015\", \"channels\": [\"in_voltage0\"]}")
      config.device = try deviceName(&v, node)
      try readNames(&v, node, "channels", into: &config)
    default:
      config.preset = .hwmon
      try v.checkObject(
        node, allowed: "preset device inputs sysfs_root", what: "a hwmon source",
        example: "{\"preset\": \"hwmon\", \"device\": \"cpu_thermal\", \"inputs\": [\"temp1_input\"]}")
      config.device = try deviceName(&v, node)
      try readNames(&v, node, "inputs", into: &config)
    }
    if v.doc.member(node, "sysfs_root") != nil {
      config.sysfsRoot = try v.path(node, "sysfs_root", absolute: true)
    }
    return config
  }

  /// The device's name as its driver gives it (`name` or `label` in sysfs).
  static func deviceName(_ v: inout Validator, _ node: Int) throws(ConfigError) -> Name {
    guard let device = v.doc.member(node, "device") else {
      throw v.missing(node, "device", "the device's name, as in its sysfs `name` file")
    }
    let mark = v.push("device")
    defer { v.pop(mark) }
    return try v.readKernelName(device)
  }

  /// IIO channel types (the kernel's iio_chan_type_name_spec), for "did you mean".
  static var iioTypes: StaticString {
    """
    voltage current power accel anglvel magn illuminance intensity proximity temp incli rot angl
    timestamp capacitance altvoltage cct pressure humidityrelative activity steps energy distance
    velocity concentration resistance ph uvindex electricalconductivity count index gravity
    positionrelative phase massconcentration deltaangl deltavelocity colortemp chromaticity attention
    """
  }

  /// `channels` of an iio source or `inputs` of a hwmon one: one name or an array of 1 to 4,
  /// each checked, none twice; their record keys go into `config.keys`.
  static func readNames(
    _ v: inout Validator, _ node: Int, _ key: StaticString, into config: inout SensorConfig
  )
    throws(ConfigError)
  {
    let iio = config.preset == .iio
    let expected: StaticString =
      iio
      ? "an IIO input channel or an array of 1 to 4 (\"in_voltage0\", [\"in_temp\", \"in_pressure\"])"
      : "a hwmon input or an array of 1 to 4 (\"temp1_input\", [\"in0_input\", \"curr1_input\"])"
    guard let list = v.doc.member(node, key) else { throw v.missing(node, key, expected) }
    let mark = v.push(key)
    defer { v.pop(mark) }
    let items: [Int]
    switch v.kind(list) {
    case .string: items = [list]
    case .array:
      items = v.doc.elements(list)
      if items.isEmpty || items.count > SensorSource.maxChannels {
        throw v.mismatch(.range, at: list, expected: expected)
      }
    default: throw v.mismatch(.type, at: list, expected: expected)
    }
    for (position, item) in items.enumerated() {
      let inner = v.kind(list) == .array ? v.push(index: position) : v.path.count
      defer { v.pop(inner) }
      guard v.kind(item) == .string, let name = asName(v.doc.string(item)) else {
        throw v.mismatch(
          v.kind(item) == .string ? .range : .type, at: item,
          expected: iio
            ? "an IIO channel name such as \"in_voltage0\"" : "a hwmon input such as \"temp1_input\"")
      }
      let keyName: Name
      if iio {
        try checkIIOChannel(&v, item, name)
        keyName = SensorResolver.valueKey(iioChannel: name)
      } else {
        guard let found = SensorResolver.valueKey(hwmonInput: name) else {
          var withInput = Array(v.doc.string(item))
          withInput.append("_input")
          let suggested =
            SensorResolver.valueKey(hwmonInput: Name(withInput[...]) ?? Name()) == nil ? nil : withInput
          throw v.mismatch(
            .range, at: item,
            expected: bytes(
              "a hwmon input file: temp<n>_input, in<n>_input, curr<n>_input, power<n>_input, energy<n>_input, humidity<n>_input or fan<n>_input"
            ), suggested: suggested)
        }
        keyName = found
      }
      for other in config.keys.indices where config.keys[other] == keyName {
        throw v.error(.conflict, at: item, "the same value is listed twice")
      }
      config.channels.append(name)
      config.keys.append(keyName)
    }
  }

  /// An IIO channel: `in_<type>` with the kernel's types (`in_voltage0`, `in_temp`,
  /// `in_humidityrelative`, `in_voltage0-voltage1`, `in_intensity_ir`).
  static func checkIIOChannel(_ v: inout Validator, _ item: Int, _ name: Name) throws(ConfigError) {
    let text = Array(v.doc.string(item))
    let hasInPrefix = hasPrefix(text, "in_")
    // The type: after `in_` (the whole name without it), up to an index, a modifier or a
    // second channel.
    let start = hasInPrefix ? 3 : 0
    var end = start
    while end < text.count {
      let byte = text[end]
      if byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || (byte >= 0x30 && byte <= 0x39) { break }
      end += 1
    }
    let types = Words(stringLiteral: iioTypes)
    if hasInPrefix && types.index(of: text[start..<end]) != nil { return }
    // A close type (in_humidity → in_humidityrelative) is offered with the rest of the name.
    var suggested: [UInt8]? = nil
    if let close = suggestion(for: text[start..<end], among: types) {
      var word: [UInt8] = []
      word.append("in_")
      word.append(contentsOf: close)
      word.append(contentsOf: text[end...])
      suggested = word
    }
    throw v.mismatch(
      .range, at: item,
      expected: bytes(
        "an IIO input channel: in_<type>[<index>] such as in_voltage0, in_temp, in_humidityrelative or in_pressure"
      ),
      suggested: suggested)
  }

  /// `filters`: one chain for every value (an array) or a chain per value by its key (an
  /// object); each value's chain by channel.
  static func readFilters(_ v: inout Validator, _ element: Int, keys: HeapList<Name>) throws(ConfigError)
    -> HeapList<HeapList<FilterSpec>>
  {
    var chains = HeapList(repeating: HeapList<FilterSpec>(), count: keys.count)
    guard let node = v.doc.member(element, "filters") else { return chains }
    let mark = v.push("filters")
    defer { v.pop(mark) }
    switch v.kind(node) {
    case .array:
      chains = HeapList(repeating: try readChain(&v, node), count: keys.count)
    case .object:
      var names: [[UInt8]] = []
      for i in keys.indices { names.append(keys[i].bytes) }
      var seen = [Int](repeating: -1, count: keys.count)
      for keyNode in v.doc.memberKeys(node) {
        let key = v.doc.string(keyNode)
        let inner = v.push(key: key)
        defer { v.pop(inner) }
        var found: Int? = nil
        for index in names.indices where names[index][...] == key {
          found = index
          break
        }
        guard let channel = found else {
          var message: [UInt8] = []
          message.append("no value of this sensor has this key")
          if let close = suggestionIndex(for: key, among: names) {
            message.append("; did you mean ")
            message.appendQuoted(names[close])
            message.append("?")
          } else {
            message.append("; its values are ")
            for (i, name) in names.enumerated() {
              if i > 0 { message.append(", ") }
              message.appendQuoted(name)
            }
          }
          throw v.error(.unknownKey, at: keyNode, message)
        }
        if seen[channel] >= 0 { throw v.duplicateKey(keyNode, first: seen[channel]) }
        seen[channel] = keyNode
        chains[channel] = try readChain(&v, keyNode + 1)
      }
    default:
      throw v.mismatch(
        .type, at: node,
        expected:
          "an array of filters for every value ([{\"kind\": \"median\", \"window\": 5}]) or an object of arrays by value ({\"humidity\": [...]})"
      )
    }
    return chains
  }

  /// One value's chain: an array of at most `FilterLimits.chain` filter objects.
  static func readChain(_ v: inout Validator, _ node: Int) throws(ConfigError) -> HeapList<FilterSpec> {
    guard v.kind(node) == .array else {
      throw v.mismatch(
        .type, at: node, expected: "an array of filters ([{\"kind\": \"median\", \"window\": 5}])")
    }
    let items = v.doc.elements(node)
    if items.count > FilterLimits.chain {
      throw v.capacityError(at: node, most: FilterLimits.chain, of: "filters per value", found: items.count)
    }
    // Filled by index (every place is read below): no appends.
    var chain = HeapList(repeating: FilterSpec.delta(minimum: 0), count: items.count)
    for (position, item) in items.enumerated() {
      let inner = v.push(index: position)
      chain[position] = try readFilter(&v, item)
      v.pop(inner)
    }
    return chain
  }

  /// One filter object: its `kind` and that kind's parameters.
  static func readFilter(_ v: inout Validator, _ node: Int) throws(ConfigError) -> FilterSpec {
    guard v.kind(node) == .object else {
      throw v.mismatch(
        .type, at: node, expected: "a filter object ({\"kind\": \"median\", \"window\": 5})")
    }
    let kind = try v.choice(node, "kind", filterKinds, default: nil)
    let example: StaticString = "{\"kind\": \"median\", \"window\": 5}"
    switch kind {
    case 0, 1:
      try v.checkObject(
        node, allowed: "kind window", what: kind == 0 ? "an average filter" : "a median filter",
        example: example)
      let window = Int(
        try v.integer(node, "window", 1...Int64(FilterLimits.window), default: nil, unit: "values"))
      return kind == 0 ? .average(window: window) : .median(window: window)
    case 2:
      try v.checkObject(node, allowed: "kind alpha", what: "an exponential filter", example: example)
      let alpha = try v.decimal(
        node, "alpha", from: DecimalNumber(significand: 1, exponent: -6), to: .one, default: nil)
      return .exponential(alpha: alpha.double)
    case 3, 5:
      try v.checkObject(
        node, allowed: "kind interval_ms", what: kind == 3 ? "a throttle filter" : "a heartbeat filter",
        example: example)
      let interval = try v.milliseconds(node, "interval_ms", 1...86_400_000, default: nil)
      return kind == 3 ? .throttle(interval: interval) : .heartbeat(interval: interval)
    case 4:
      try v.checkObject(node, allowed: "kind minimum", what: "a delta filter", example: example)
      return .delta(
        minimum: try v.decimal(node, "minimum", from: .zero, to: maxPositive, default: nil).double)
    case 6:
      try v.checkObject(node, allowed: "kind low high", what: "a clamp filter", example: example)
      if v.doc.member(node, "low") == nil && v.doc.member(node, "high") == nil {
        throw v.missing(node, "low", "a number; or \"high\", or both")
      }
      let low = try v.decimal(node, "low", from: maxNegative, to: maxPositive, default: maxNegative)
      let high = try v.decimal(node, "high", from: maxNegative, to: maxPositive, default: maxPositive)
      if low.double > high.double, v.doc.member(node, "high") != nil {
        var expected: [UInt8] = []
        expected.append("a number no lower than low (")
        low.render(into: &expected)
        expected.append(")")
        throw v.mismatch(.range, atKey: "high", of: node, expected: expected)
      }
      return .clamp(low: low.double, high: high.double)
    default:
      try v.checkObject(node, allowed: "kind points", what: "a calibrate filter", example: example)
      let expected: StaticString = "two [measured, actual] pairs ([[0.5, 0], [99.1, 100]])"
      guard let points = v.doc.member(node, "points") else { throw v.missing(node, "points", expected) }
      let mark = v.push("points")
      defer { v.pop(mark) }
      let pairs = v.kind(points) == .array ? v.doc.elements(points) : []
      guard pairs.count == 2 else {
        throw v.mismatch(v.kind(points) == .array ? .range : .type, at: points, expected: expected)
      }
      var values = InlineArray<4, Double>(repeating: 0)
      var count = 0
      for (position, pair) in pairs.enumerated() {
        let inner = v.push(index: position)
        let numbers = v.kind(pair) == .array ? v.doc.elements(pair) : []
        guard numbers.count == 2 else {
          throw v.mismatch(
            v.kind(pair) == .array ? .range : .type, at: pair,
            expected: "a [measured, actual] pair of numbers")
        }
        for (k, number) in numbers.enumerated() {
          let item = v.push(index: k)
          values[count] = try v.readDecimal(number, from: maxNegative, to: maxPositive).double
          count += 1
          v.pop(item)
        }
        v.pop(inner)
      }
      let spec = FilterSpec.calibrate(
        measured1: values[0], actual1: values[1], measured2: values[2], actual2: values[3])
      if spec.problem != nil {
        throw v.error(.range, at: points, "the two measured values must differ")
      }
      return spec
    }
  }

  /// Its files are open only while a worker thread reads them.
  var needs: TaskNeeds { TaskNeeds(timer: true, fileReads: true) }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    let source: SensorSource
    do throws(SensorSetupError) { source = try resolve() } catch {
      var e = prefix(task, world)
      e.add(error)
      throw e
    }
    if source.problem(period: period) != nil {
      var e = prefix(task, world)
      e.add("period_ms is ")
      e.add(decimal: Int(period.nanoseconds / 1_000_000))
      e.add(", shorter than the sensor's conversion time (")
      e.add(decimal: Int(source.readTime.nanoseconds / 1_000_000))
      e.add(" ms): a read would still be running at the next tick; set period_ms to at least that")
      throw e
    }
    var filters = SensorFilters()
    for channel in 0..<source.count {
      var specs = InlineArray<6, FilterSpec>(repeating: .delta(minimum: 0))
      let list = self.filters[channel]
      for i in list.indices { specs[i] = list[i] }
      do throws(FilterChainError) {
        filters.set(try FilterChain(specs, count: list.count), channel: channel)
      } catch {
        // The validator checked every filter.
        var e = prefix(task, world)
        e.add(error.message)
        throw e
      }
    }
    let sensor = SensorTask(
      index: task.index, source: source, filters: filters, period: period, start: task.start)
    guard let slot = world.addSensor(sensor) else {
      var e = prefix(task, world)
      e.add("no room in the firmware's sensor table")
      throw e
    }
    return .sensor(slot)
  }

  /// The sensor's files, found by its preset's resolver. Out of line: each resolver returns
  /// its source straight into this function's result (into a local in `build`, each was copied).
  @inline(never)
  func resolve() throws(SensorSetupError) -> SensorSource {
    var names = SensorNames()
    for i in channels.indices { names.append(channels[i]) }
    switch preset {
    case .ds18b20: return try SensorResolver.ds18b20(root: sysfsRoot, id: device)
    case .iio: return try SensorResolver.iio(root: sysfsRoot, device: device, channels: names)
    case .hwmon: return try SensorResolver.hwmon(root: sysfsRoot, device: device, inputs: names)
    }
  }

  /// `sensorloop: task "air" (iio "bme280"): `.
  func prefix(_ task: TaskBuild, _ world: borrowing FirmwareWorld) -> StartupError {
    var e = StartupError("sensorloop: task \"")
    e.add(world.names[task.index])
    e.add("\" (")
    e.add(preset.name)
    if !device.isEmpty {
      e.add(" \"")
      e.add(device)
      e.add("\"")
    }
    e.add("): ")
    return e
  }

  /// One value: a `sensor` with `value` and `unit`, as a sampler's. Several: one `sensor` per
  /// value, under its record key.
  func discover(_ d: inout Discovery, _ name: [UInt8]) {
    if keys.count == 1 {
      let unit = MQTTConfig.sensorUnit(preset, channels.count > 0 ? channels[0] : nil)
      d.add("sensor", name, name: name, d.sensorFields(name, unit))
      return
    }
    for k in keys.indices {
      let key = keys[k].bytes
      let unit = MQTTConfig.sensorUnit(preset, k < channels.count ? channels[k] : nil)
      let f = d.sensorFields(name, unit, value: key)
      d.add("sensor", d.text("\u{5}_\u{6}", name, key), name: d.text("\u{5} \u{6}", name, key), f)
    }
  }
}
