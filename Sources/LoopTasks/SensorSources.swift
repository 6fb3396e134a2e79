// Source presets: a sensor named the way its kernel driver names it, resolved to files once at
// startup, so the loop only ever reads those files (through the worker, `SensorReader`).
//
//   ds18b20  /sys/bus/w1/devices/<id>/temperature (w1_therm, milli-°C; `w1_slave` on kernels
//            before 5.10), by id or the only temperature sensor the bus masters list in
//            `w1_master_slaves`. A read takes the conversion time (`conv_time`, 750 ms at
//            12 bits): the period must be at least that.
//   iio      /sys/bus/iio/devices/iio:deviceN, found by its `name`; per channel the processed
//            `<channel>_input`, else `<channel>_raw` with the driver's `_scale` and `_offset`
//            (the channel's own, else the one its type shares: `in_voltage_scale`), as the
//            kernel's sysfs-bus-iio ABI gives them: (raw + offset) × scale in mV, milli-°C,
//            milli-%RH or kPa, turned here into V, °C, %RH and kPa.
//   hwmon    /sys/class/hwmon/hwmonN, found by its `name`; inputs such as `temp1_input` in
//            hwmon's fixed units (sysfs-interface: milli-°C, mV, mA, µW, µJ, milli-%RH, RPM).
//
// Every resolver takes the sysfs root (`/sys` on a board), so tests build a fake tree. Nothing
// here allocates: the paths are fixed-capacity text and devices are found by probing numbered
// directories (iio:device0…31, hwmon0…31, w1_bus_master1…8), with no directory listing.

import LoopCore
import LoopLinux

/// Which preset a source was resolved from.
public enum SensorPreset: Equatable, Sendable {
  case ds18b20, iio, hwmon

  /// The name the config gives it.
  public var name: StaticString {
    switch self {
    case .ds18b20: "ds18b20"
    case .iio: "iio"
    case .hwmon: "hwmon"
    }
  }
}

/// How a channel's file holds its number.
public enum ChannelFormat: Equatable, Sendable {
  /// One decimal number (the sysfs convention).
  case number
  /// w1_therm's `w1_slave`: the scratchpad with `crc=.. YES|NO`, then `t=<milli-°C>`.
  case w1Slave
}

/// One value a source reports: the file it is read from and how the number becomes the value.
public struct SensorChannel: Equatable, Sendable {
  /// The value's key in a record: `temperature`, `humidity`, `pressure`, `voltage0`, `temp1` …
  public var key: ShortName
  /// The unit of the value: `°C`, `%RH`, `kPa`, `V` …
  public var unit: ShortName
  /// The file read for each sample.
  public var path: FilePath
  /// Added to the number read, before scaling (IIO's `_offset`).
  public var offset: Double
  /// The number read plus `offset`, times this, is the value in `unit`.
  public var scale: Double
  /// How the file holds the number.
  public var format: ChannelFormat

  /// The value of the number `raw` read from the file.
  public func value(raw: Double) -> Double { (raw + offset) * scale }
}

/// A resolved source: up to `maxChannels` values of one device, read together into one record.
public struct SensorSource: Sendable {
  /// The most values one source reports (a BME280 has three).
  public static let maxChannels = 4

  /// The preset it came from.
  public let preset: SensorPreset
  /// The device found: the 1-Wire id, `iio:deviceN` or `hwmonN`.
  public var device: ShortName
  /// How long one read may take on the bus (a DS18B20's conversion): the shortest valid period.
  public var readTime: Duration
  private var list = InlineArray<4, SensorChannel>(
    first: SensorChannel(
      key: ShortName(), unit: ShortName(), path: FilePath(), offset: 0, scale: 1, format: .number)
  ) { $0 }
  /// Channels in use.
  public private(set) var count = 0

  init(preset: SensorPreset, device: ShortName, readTime: Duration) {
    self.preset = preset
    self.device = device
    self.readTime = readTime
  }

  /// Channel `i` (below `count`).
  public subscript(i: Int) -> SensorChannel {
    @inline(never) get {
      precondition(i >= 0 && i < count, "SensorSource.subscript: index")
      return list[i]
    }
  }

  @inline(never)
  mutating func add(_ channel: SensorChannel) {
    precondition(count < SensorSource.maxChannels, "SensorSource.add: full")
    list[count] = channel
    count += 1
  }

  /// Why `period` is too short for this source (a DS18B20 read takes its conversion time),
  /// or nil when it will do.
  public func problem(period: Duration) -> StaticString? {
    period >= readTime ? nil : "period_ms is shorter than the sensor's conversion time"
  }
}

/// Names given to a resolver: the channels of an IIO device or the inputs of a hwmon device.
public struct SensorNames: Sendable {
  private var names = InlineArray<4, ShortName>(first: ShortName()) { $0 }
  /// Names held.
  public private(set) var count = 0

  /// No names.
  public init() {}

  /// Adds `name`; false when `SensorSource.maxChannels` are already held.
  @discardableResult
  public mutating func append(_ name: ShortName) -> Bool {
    guard count < SensorSource.maxChannels else { return false }
    names[count] = name
    count += 1
    return true
  }

  /// Name `i`.
  public subscript(i: Int) -> ShortName {
    @inline(never) get { names[i] }
  }
}

/// Why a source could not be resolved, with what the user needs to fix it.
public typealias SensorSetupError = SysfsSetupError

/// The resolvers of the presets.
public enum SensorResolver {
  /// Numbered devices probed (iio:device0…, hwmon0…).
  public static let probedDevices = 32
  /// 1-Wire bus masters probed (w1_bus_master1…).
  public static let probedMasters = 8
  /// A DS18B20's conversion time at 12-bit resolution, when the driver does not say.
  public static let ds18b20ConversionTime = Duration.milliseconds(750)

  /// The DS18B20 (or another w1_therm sensor) with `id` (such as `28-0000075c293f`), or the only
  /// one on the 1-Wire bus when `id` is empty.
  public static func ds18b20(root: SysfsPath, id: ShortName) throws(SensorSetupError) -> SensorSource {
    try resolve(.ds18b20, root: root, device: id, names: SensorNames())
  }

  /// The source `preset` names, resolved by its resolver below. Each resolver writes its
  /// failure into `failure` and returns false; only this function throws it (a 450-byte error
  /// thrown and rethrown at every step was copied at every step).
  @inline(never)
  static func resolve(_ preset: SensorPreset, root: SysfsPath, device: ShortName, names: SensorNames)
    throws(SensorSetupError) -> SensorSource
  {
    var source = SensorSource(
      preset: preset, device: device, readTime: preset == .ds18b20 ? ds18b20ConversionTime : .zero)
    var failure = SensorSetupError("", path: root)
    let resolved =
      switch preset {
      case .ds18b20: resolveDS18B20(root, device, &source, &failure)
      case .iio: resolveIIO(root, device, names, &source, &failure)
      case .hwmon: resolveHwmon(root, device, names, &source, &failure)
      }
    guard resolved else { throw failure }
    return source
  }

  /// `ds18b20(root:id:)`'s search: the sensor's file into `source`, else false with `failure`.
  private static func resolveDS18B20(
    _ root: SysfsPath, _ id: ShortName, _ source: inout SensorSource, _ failure: inout SensorSetupError
  ) -> Bool {
    var devices = root
    devices.append("/bus/w1/devices")
    let hint: StaticString = "enable 1-Wire: dtoverlay=w1-gpio in /boot/firmware/config.txt (data on GPIO4)"
    if id.isEmpty {
      var ids = FixedText<128>()
      let n = thermSensors(devices, into: &ids, first: &source.device)
      if n == 0 {
        failure.set("no 1-Wire temperature sensor found", path: devices, hint: hint)
        return false
      }
      if n > 1 {
        failure.set("several 1-Wire temperature sensors: give the id of one", path: devices)
        failure.found = ids
        return false
      }
    }
    var dir = devices
    dir.append("/")
    dir.append(source.device)
    var file = dir
    file.append("/temperature")
    var format = ChannelFormat.number
    if !SysfsFile.exists(file) {
      file = dir
      file.append("/w1_slave")
      format = .w1Slave
    }
    guard SysfsFile.exists(file) else {
      failure.set("no 1-Wire sensor with this id", path: dir, hint: hint)
      var unused = ShortName()
      _ = thermSensors(devices, into: &failure.found, first: &unused)
      return false
    }
    // w1_therm says the conversion time of the sensor's resolution (kernel 5.10 and later).
    var convTime = dir
    convTime.append("/conv_time")
    if let text = try? SysfsFile.read(convTime), let ms = text.unsignedValue, ms > 0 {
      source.readTime = .milliseconds(Int64(ms))
    }
    source.add(
      SensorChannel(
        key: ShortName("temperature"), unit: ShortName("°C"), path: file, offset: 0, scale: 0.001,
        format: format))
    return true
  }

  /// The key a record gives IIO channel `channel`'s value (`in_temp` → `temperature`,
  /// `in_voltage0` → `voltage0`): what the config names it by (startup, no sysfs needed).
  public static func valueKey(iioChannel channel: ShortName) -> ShortName {
    iioUnit(channel, type: iioType(channel)).0
  }

  /// The key a record gives hwmon input `input`'s value (`temp1_input` → `temp1`), nil when it
  /// is not a hwmon input.
  public static func valueKey(hwmonInput input: ShortName) -> ShortName? { hwmonUnit(input)?.0 }

  /// The unit IIO channel `channel`'s values are reported in (`in_voltage0` → `V`), empty when
  /// its type has none here: the one table records and Home Assistant discovery both read.
  public static func unit(iioChannel channel: ShortName) -> ShortName {
    iioUnit(channel, type: iioType(channel)).1
  }

  /// The unit hwmon input `input`'s values are reported in (`temp1_input` → `°C`), empty when it
  /// is not a hwmon input.
  public static func unit(hwmonInput input: ShortName) -> ShortName { hwmonUnit(input)?.1 ?? ShortName() }

  /// The w1_therm sensors the bus masters list: their ids comma-separated into `ids`, the first
  /// one into `first`; returns how many.
  @inline(never)
  static func thermSensors(_ devices: SysfsPath, into ids: inout FixedText<128>, first: inout ShortName)
    -> Int
  {
    var n = 0
    for master in 1...probedMasters {
      var path = devices
      path.append("/w1_bus_master")
      path.append(decimal: master)
      path.append("/w1_master_slaves")
      guard let text = try? SysfsFile.read(path) else { continue }
      var line = ShortName()
      for i in 0...text.count {
        if i < text.count && text[i] != 0x0A {
          line.append(byte: text[i])
          continue
        }
        if isThermID(line) {
          if n == 0 { first = line }
          if !ids.isEmpty { ids.append(", ") }
          ids.append(line)
          n += 1
        }
        line = ShortName()
      }
    }
    return n
  }

  /// Whether `id` names a sensor w1_therm drives: family 10 (DS18S20), 22 (DS1822),
  /// 28 (DS18B20), 3b (DS1825) or 42 (DS28EA00), then `-` and 12 hex digits.
  @inline(never)
  public static func isThermID(_ id: ShortName) -> Bool {
    guard id.count == 15, id[2] == UInt8(ascii: "-") else { return false }
    let family = (id[0], id[1])
    let known =
      family == (0x31, 0x30) || family == (0x32, 0x32) || family == (0x32, 0x38)
      || family == (0x33, 0x62) || family == (0x34, 0x32)
    return known
  }

  /// The IIO device named `device` (its `name` file, or its `label`), with `channels` such as `in_voltage0`,
  /// `in_temp`, `in_humidityrelative`, `in_pressure`.
  public static func iio(root: SysfsPath, device: ShortName, channels: SensorNames) throws(SensorSetupError)
    -> SensorSource
  {
    try resolve(.iio, root: root, device: device, names: channels)
  }

  /// `iio(root:device:channels:)`'s search: the channels' files into `source`, else false with
  /// `failure`.
  private static func resolveIIO(
    _ root: SysfsPath, _ device: ShortName, _ channels: SensorNames, _ source: inout SensorSource,
    _ failure: inout SensorSetupError
  ) -> Bool {
    var dir = root
    guard
      locate(
        &dir, "/bus/iio/devices", "iio:device", named: device,
        hint:
          "enable the chip's overlay in /boot/firmware/config.txt (dtoverlay=i2c-sensor,bme280; dtoverlay=ads1015; dtoverlay=mcp3008)",
        &source, &failure)
    else { return false }
    for c in 0..<channels.count {
      let channel = channels[c]
      let type = iioType(channel)
      var file = dir
      file.append("/")
      file.append(channel)
      let base = file
      file.append("_input")
      var offset = 0.0
      var scale = 1.0
      if !SysfsFile.exists(file) {
        file = base
        file.append("_raw")
        guard SysfsFile.exists(file) else {
          failure.set("the IIO device has no such channel (no _raw or _input file)", path: base)
          return false
        }
        guard attribute(dir, channel, type: type, "_scale", &scale, &failure),
          attribute(dir, channel, type: type, "_offset", &offset, &failure)
        else { return false }
      }
      let (key, unit, factor) = iioUnit(channel, type: type)
      source.add(
        SensorChannel(
          key: key, unit: unit, path: file, offset: offset, scale: scale * factor, format: .number))
    }
    return true
  }

  /// The hwmon device named `device` (its `name` file), with `inputs` such as `temp1_input`.
  public static func hwmon(root: SysfsPath, device: ShortName, inputs: SensorNames) throws(SensorSetupError)
    -> SensorSource
  {
    try resolve(.hwmon, root: root, device: device, names: inputs)
  }

  /// `hwmon(root:device:inputs:)`'s search: the inputs' files into `source`, else false with
  /// `failure`.
  private static func resolveHwmon(
    _ root: SysfsPath, _ device: ShortName, _ inputs: SensorNames, _ source: inout SensorSource,
    _ failure: inout SensorSetupError
  ) -> Bool {
    var dir = root
    guard locate(&dir, "/class/hwmon", "hwmon", named: device, hint: "", &source, &failure) else {
      return false
    }
    for i in 0..<inputs.count {
      let input = inputs[i]
      var file = dir
      file.append("/")
      file.append(input)
      if !SysfsFile.exists(file) {
        // Drivers before Linux 5.x kept the attributes in the device's own directory.
        var old = dir
        old.append("/device/")
        old.append(input)
        guard SysfsFile.exists(old) else {
          failure.set("the hwmon device has no such input", path: file)
          return false
        }
        file = old
      }
      guard let units = hwmonUnit(input) else {
        failure.set(
          "not a hwmon input (temp*_input, in*_input, curr*_input, power*_input, energy*_input, humidity*_input, fan*_input)",
          path: file)
        return false
      }
      source.add(
        SensorChannel(key: units.0, unit: units.1, path: file, offset: 0, scale: units.2, format: .number))
    }
    return true
  }

  /// The numbered device (`<kind>0` … `<kind>31` in `root + devices`) named `name`: its
  /// directory into `dir` (which holds the sysfs root), `<kind>N` into `source.device`; false
  /// with `failure` (listing the names found) when there is none.
  @inline(never)
  static func locate(
    _ dir: inout SysfsPath, _ devices: StaticString, _ kind: StaticString, named name: ShortName,
    hint: StaticString, _ source: inout SensorSource, _ failure: inout SensorSetupError
  ) -> Bool {
    dir.append(devices)
    let allDevices = dir
    dir.append("/")
    dir.append(kind)
    guard let number = findDevice(dir, named: name, allDevices: allDevices, hint: hint, &failure) else {
      return false
    }
    dir.append(decimal: number)
    source.device = ShortName(kind)
    source.device.append(decimal: number)
    return true
  }

  /// The number of the first of `prefix0` … `prefix31` whose `name` (or `label`) file's first
  /// line is `name` (the caller appends it to `prefix`: a path returned by value is copied byte
  /// by byte, about 2 KB of code per copy); nil with `failure` listing the names found.
  static func findDevice(
    _ prefix: SysfsPath, named name: ShortName, allDevices: SysfsPath, hint: StaticString,
    _ failure: inout SensorSetupError
  ) -> Int? {
    var names = FixedText<128>()
    for n in 0..<probedDevices {
      var dir = prefix
      dir.append(decimal: n)
      var file = dir
      file.append("/name")
      guard let text = try? SysfsFile.read(file) else { continue }
      let found = text.firstLine
      if found == SysfsText(name) { return n }
      // Two chips of one kind share a name; a device-tree `label` (IIO, Linux 5.11+) tells
      // them apart.
      var labelFile = dir
      labelFile.append("/label")
      if let label = try? SysfsFile.read(labelFile), label.firstLine == SysfsText(name) { return n }
      if !names.isEmpty { names.append(", ") }
      names.append(found)
    }
    failure.set(
      names.isEmpty ? "no device of this kind exists" : "no device with this name", path: allDevices,
      hint: hint)
    failure.found = names
    return nil
  }

  /// The channel's type: its direction and type word, without the index and the modifier
  /// (`in_voltage0` → `in_voltage`; `in_temp_ambient` → `in_temp`, whose `in_temp_offset` and
  /// `in_temp_scale` the MLX90614's driver shares between its channels).
  static func iioType(_ channel: ShortName) -> ShortName {
    var end = 0
    while end < channel.count && channel[end] != 0x5F { end += 1 }  // past `in_`
    if end < channel.count { end += 1 }
    while end < channel.count && channel[end] >= 0x61 && channel[end] <= 0x7A { end += 1 }
    var type = ShortName()
    for i in 0..<end { type.append(byte: channel[i]) }
    return type
  }

  /// The channel's own `suffix` attribute (`in_voltage0_scale`), else the one its type shares
  /// (`in_voltage_scale`), into `value` (left as it is when the driver has neither); false with
  /// `failure` when the file holds no number. Out of line: read twice per raw channel.
  @inline(never)
  static func attribute(
    _ dir: SysfsPath, _ channel: ShortName, type: ShortName, _ suffix: StaticString, _ value: inout Double,
    _ failure: inout SensorSetupError
  ) -> Bool {
    for candidate in 0..<2 {
      var file = dir
      file.append("/")
      file.append(candidate == 0 ? channel : type)
      file.append(suffix)
      guard let text = try? SysfsFile.read(file) else { continue }
      guard let number = number(text) else {
        failure.set("the driver's attribute is not a number", path: file)
        return false
      }
      value = number
      return true
    }
    return true
  }

  /// The record key, unit and factor from the ABI's unit (mV, milli-°C, milli-%RH, kPa) of an
  /// IIO channel.
  static func iioUnit(_ channel: ShortName, type: ShortName) -> (ShortName, ShortName, Double) {
    // The key is the channel without `in_`; the well-known types get their quantity's name.
    var key = ShortName()
    let start = channel.count > 3 && channel[0] == 0x69 && channel[1] == 0x6E && channel[2] == 0x5F ? 3 : 0
    for i in start..<channel.count { key.append(byte: channel[i]) }
    var unit = ShortName()
    var factor = 1.0
    _ = lookUp(
      iioUnits, width: 4, type, prefix: false, rename: channel.count == type.count, key: &key, unit: &unit,
      factor: &factor)
    return (key, unit, factor)
  }

  /// The IIO types with a unit here: type, unit, scale (`m` 0.001, `u` 0.000001, `1` 1) and the
  /// key of a channel that is just the type (`-`: the channel without `in_`).
  static let iioUnits: StaticString =
    "in_temp °C m temperature in_humidityrelative %RH m humidity in_pressure kPa 1 - in_voltage V m - in_current A m -"

  /// hwmon's input types, tried in this order as prefixes of the input: type, unit, scale (as in
  /// `iioUnits`).
  static let hwmonUnits: StaticString =
    "temp °C m in V m curr A m power W u energy J u humidity %RH m fan RPM 1"

  /// The entry of `table` (entries of `width` words, as in `iioUnits`) whose type `name` is (or
  /// begins with, when `prefix`): its unit and factor into `unit` and `factor`, and with
  /// `rename` its key into `key` when it gives one. False when no entry matches.
  @inline(never)
  static func lookUp(
    _ table: StaticString, width: Int, _ name: ShortName, prefix: Bool, rename: Bool, key: inout ShortName,
    unit: inout ShortName, factor: inout Double
  ) -> Bool {
    // SAFETY: a literal's bytes live as long as the program.
    let bytes = UnsafeBufferPointer(start: table.utf8Start, count: table.utf8CodeUnitCount)
    var words = InlineArray<4, Range<Int>>(repeating: 0..<0)
    var i = 0
    while i < bytes.count {
      for w in 0..<width {
        let first = i
        while i < bytes.count && bytes[i] != 0x20 { i += 1 }
        words[w] = first..<i
        i += 1
      }
      let type = words[0]
      guard prefix ? name.count >= type.count : name.count == type.count else { continue }
      var same = true
      for k in 0..<type.count where name[k] != bytes[type.lowerBound + k] {
        same = false
        break
      }
      guard same else { continue }
      unit = ShortName()
      for k in words[1] { unit.append(byte: bytes[k]) }
      let scale = bytes[words[2].lowerBound]
      factor = scale == UInt8(ascii: "m") ? 0.001 : scale == UInt8(ascii: "u") ? 0.000_001 : 1
      if rename && width > 3 && bytes[words[3].lowerBound] != UInt8(ascii: "-") {
        key = ShortName()
        for k in words[3] { key.append(byte: bytes[k]) }
      }
      return true
    }
    return false
  }

  /// The record key (the input without `_input`), unit and factor of a hwmon input, from hwmon's
  /// fixed units; nil for a name that is not a hwmon input.
  static func hwmonUnit(_ input: ShortName) -> (ShortName, ShortName, Double)? {
    guard input.count > 6 else { return nil }
    var key = ShortName()
    for i in 0..<input.count - 6 { key.append(byte: input[i]) }
    var suffix = ShortName()
    for i in (input.count - 6)..<input.count { suffix.append(byte: input[i]) }
    guard suffix.equals("_input") else { return nil }
    var unit = ShortName()
    var factor = 1.0
    guard
      lookUp(
        hwmonUnits, width: 3, input, prefix: true, rename: false, key: &key, unit: &unit, factor: &factor)
    else { return nil }
    return (key, unit, factor)
  }

  /// The number a small attribute file holds (its first line), parsed as the sampler parses.
  static func number(_ text: SysfsText) -> Double? {
    let line = text.firstLine
    guard line.count < Sampler.readBytes else { return nil }
    var buffer = InlineArray<64, UInt8>(repeating: 0)
    for i in 0..<line.count { buffer[i] = line[i] }
    return parseNumber(buffer, count: line.count)
  }
}
