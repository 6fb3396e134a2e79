// The source presets against a fake sysfs tree the tests build (w1, IIO and hwmon layouts as
// the kernel's ABI documents give them: sysfs-bus-w1 / w1_therm, sysfs-bus-iio,
// hwmon/sysfs-interface), with their quirks: a DS18B20 read that takes its 750 ms conversion
// (in virtual time, through a file service that answers late), w1_therm's empty answer to a
// CRC error, an MCP3008's `_scale` shared by every voltage channel, files gone when a sensor is
// unplugged. Then the real worker reads a BME280's three values into one sample with no heap.

import AllocCounter
import Foundation
import HostTestSupport
import LoopCore
import LoopLinux
import LoopTasks
import Testing

extension FakeSysfs {
  /// The root as resolvers take it.
  var path: SysfsPath { SysfsPath(text: root) }

  /// A w1 bus master listing `ids`, each a w1_therm sensor at `milliC`.
  func w1(master: Int = 1, _ sensors: [(id: String, milliC: Int)], slaveFile: Bool = false) {
    let list = sensors.isEmpty ? "not found.\n" : sensors.map { $0.id + "\n" }.joined()
    file("bus/w1/devices/w1_bus_master\(master)/w1_master_slaves", list)
    for sensor in sensors {
      let dir = "bus/w1/devices/\(sensor.id)"
      file(dir + "/name", sensor.id + "\n")
      if slaveFile {
        // A kernel before 5.10: only w1_slave.
        file(
          dir + "/w1_slave",
          "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=\(sensor.milliC)\n")
      } else {
        file(dir + "/temperature", "\(sensor.milliC)\n")
        file(dir + "/resolution", "12\n")
        file(dir + "/conv_time", "750\n")
      }
    }
  }
}

extension SensorNames {
  init(_ names: [String]) {
    self.init()
    for name in names { append(ShortName(text: name)) }
  }
}

/// The message of a resolver's error, its path relative to the root, and what it found.
private func failure(_ fake: FakeSysfs, _ body: () throws(SensorSetupError) -> SensorSource) -> (
  message: String, path: String, found: String, hint: String
)? {
  do {
    _ = try body()
    return nil
  } catch {
    let path = String(decoding: error.path.withBytes { Array($0) }, as: UTF8.self)
    return (
      error.message.description, String(path.dropFirst(fake.root.count)),
      String(decoding: error.found.withBytes { Array($0) }, as: UTF8.self), error.hint.description
    )
  }
}

/// Reads done "off the loop" in virtual time: a read of a path ending in `temperature` or
/// `w1_slave` answers after the conversion time, any other at once. The file is read when the
/// request is made (what the kernel returns after the conversion is what it had then).
struct VirtualFiles: FileReadService {
  var now = Instant(nanoseconds: 1_000_000_000)
  var conversion = Duration.milliseconds(750)
  var pending: [Int: (due: Instant, result: WorkResult, data: [UInt8])] = [:]
  var submitted: [String] = []

  mutating func submitRead<let n: Int>(slot: Int, path: borrowing FixedText<n>, maxBytes: Int, waker: Waker)
    -> Bool
  {
    guard pending[slot] == nil else { return false }
    let name = path.withBytes { String(decoding: bytesOf($0), as: UTF8.self) }
    submitted.append(name)
    let slow = name.hasSuffix("/temperature") || name.hasSuffix("/w1_slave")
    let due = slow ? now + conversion : now
    var result = WorkResult(count: 0, errno: 0, finished: due)
    var data: [UInt8] = []
    // open/read, not FileManager.contents(atPath:): Foundation leaks its 4 KiB buffer when the
    // file is empty (w1's `temperature` after a failed conversion), which LeakSanitizer reports.
    let fd = open(name, O_RDONLY)
    if fd >= 0 {
      data = [UInt8](repeating: 0, count: maxBytes)
      let n = data.withUnsafeMutableBytes { read(fd, $0.baseAddress, maxBytes) }
      close(fd)
      data.removeSubrange(max(n, 0)...)
      if n < 0 { result.errno = errno } else { result.count = n }
    } else {
      result.errno = errno
    }
    pending[slot] = (due, result, data)
    return true
  }

  mutating func collect(_ slot: Int) -> WorkResult? {
    guard let entry = pending[slot], now >= entry.due else { return nil }
    return entry.result
  }

  func withData<R>(_ slot: Int, count: Int, _ body: (Span<UInt8>) -> R) -> R {
    let data = Array(pending[slot]!.data.prefix(count))
    return body(data.span)
  }

  /// Marks `slot` idle once its result has been taken (the worker does this in `collect`).
  mutating func taken(_ slot: Int) { pending[slot] = nil }
}

/// VirtualFiles whose collect empties the slot, as the worker's does.
struct VirtualWorker: FileReadService {
  var files = VirtualFiles()
  var lastData: [Int: [UInt8]] = [:]

  mutating func submitRead<let n: Int>(slot: Int, path: borrowing FixedText<n>, maxBytes: Int, waker: Waker)
    -> Bool
  {
    files.submitRead(slot: slot, path: path, maxBytes: maxBytes, waker: waker)
  }

  mutating func collect(_ slot: Int) -> WorkResult? {
    guard let result = files.collect(slot) else { return nil }
    lastData[slot] = files.pending[slot]!.data
    files.taken(slot)
    return result
  }

  func withData<R>(_ slot: Int, count: Int, _ body: (Span<UInt8>) -> R) -> R {
    let data = Array(lastData[slot]!.prefix(count))
    return body(data.span)
  }
}

private let waker = Waker(slot: 3, generation: 1)

/// Reads one sample through virtual files at once (no conversion time).
private func sampleNow(_ source: SensorSource) -> SensorSample {
  var files = VirtualWorker()
  files.files.conversion = .zero
  var reader = SensorReader(source: source, slot: 0)
  #expect(reader.start(&files, tick: files.files.now, waker: waker))
  var sample: SensorSample? = nil
  for _ in 0..<10 where sample == nil { sample = reader.collect(&files, waker: waker) }
  return sample!
}

private func what(_ sample: SensorSample) -> String? { sample.failure.map { $0.what.description } }

@Suite struct SensorSourceTests {
  // MARK: ds18b20

  @Test func ds18b20ByIdAndTheOnlyOne() throws {
    let fake = FakeSysfs()
    fake.w1([("28-0000075c293f", 21375)])
    let only = try SensorResolver.ds18b20(root: fake.path, id: ShortName())
    #expect(only.device == ShortName("28-0000075c293f"))
    #expect(only.count == 1 && only[0].key == ShortName("temperature") && only[0].unit == ShortName("°C"))
    #expect(only.readTime == .milliseconds(750))
    let byID = try SensorResolver.ds18b20(root: fake.path, id: ShortName("28-0000075c293f"))
    #expect(byID[0].path == only[0].path)
    let sample = sampleNow(only)
    #expect(sample.failure == nil && sample.count == 1 && abs(sample.values[0] - 21.375) < 1e-9)
  }

  @Test func ds18b20ErrorsNameWhatExistsAndTheOverlay() {
    let fake = FakeSysfs()
    // No w1 bus at all: the overlay is not enabled.
    let none = failure(fake) { () throws(SensorSetupError) in
      try SensorResolver.ds18b20(root: fake.path, id: ShortName())
    }
    #expect(none?.message == "no 1-Wire temperature sensor found")
    #expect(none?.path == "/bus/w1/devices")
    #expect(none?.hint.contains("dtoverlay=w1-gpio") == true)
    // Two sensors on two masters (and a DS2413 switch, not a thermometer): give an id.
    fake.w1(master: 1, [("28-0000075c293f", 20000), ("3a-000000112233", 0)])
    fake.w1(master: 2, [("10-000801e4a0c2", 19000)])
    let several = failure(fake) { () throws(SensorSetupError) in
      try SensorResolver.ds18b20(root: fake.path, id: ShortName())
    }
    #expect(several?.message == "several 1-Wire temperature sensors: give the id of one")
    #expect(several?.found == "28-0000075c293f, 10-000801e4a0c2")
    let wrong = failure(fake) { () throws(SensorSetupError) in
      try SensorResolver.ds18b20(root: fake.path, id: ShortName("28-00000000beef"))
    }
    #expect(wrong?.message == "no 1-Wire sensor with this id")
    #expect(wrong?.path == "/bus/w1/devices/28-00000000beef")
    #expect(wrong?.found == "28-0000075c293f, 10-000801e4a0c2")
  }

  /// The conversion takes 750 ms: the read answers then (virtual time), a tick meanwhile finds
  /// it in flight and starts nothing, and a period under the conversion time is refused.
  @Test func ds18b20ConversionTimeInVirtualTime() throws {
    let fake = FakeSysfs()
    fake.w1([("28-0000075c293f", 22500)])
    fake.file("bus/w1/devices/28-0000075c293f/conv_time", "750\n")
    let source = try SensorResolver.ds18b20(root: fake.path, id: ShortName())
    #expect(source.problem(period: .milliseconds(500)) != nil)
    #expect(source.problem(period: .milliseconds(750)) == nil)
    var files = VirtualWorker()
    let t0 = files.files.now
    var reader = SensorReader(source: source, slot: 5)
    #expect(reader.start(&files, tick: t0, waker: waker))
    files.files.now = t0 + .milliseconds(500)
    #expect(reader.collect(&files, waker: waker) == nil)  // still converting
    #expect(!reader.start(&files, tick: files.files.now, waker: waker))  // busy: nothing submitted
    #expect(files.files.submitted.count == 1)
    files.files.now = t0 + .milliseconds(750)
    let sample = try #require(reader.collect(&files, waker: waker))
    #expect(sample.tick == t0 && sample.finished - sample.tick == .milliseconds(750))
    #expect(sample.failure == nil && abs(sample.values[0] - 22.5) < 1e-9)
    #expect(reader.inFlight == nil)
    // A 9-bit sensor converts in 94 ms: the driver's conv_time says so.
    fake.file("bus/w1/devices/28-0000075c293f/conv_time", "94\n")
    let fast = try SensorResolver.ds18b20(root: fake.path, id: ShortName())
    #expect(fast.readTime == .milliseconds(94))
  }

  /// A CRC or bus error is an error sample, never a value: w1_therm's `temperature` answers it
  /// with nothing; `w1_slave` says NO, or shows the all-zero scratchpad of a sensor gone from
  /// the bus; an unplugged sensor's files are gone.
  @Test func ds18b20ErrorsAreErrorSamples() throws {
    let fake = FakeSysfs()
    fake.w1([("28-0000075c293f", 21000)])
    let source = try SensorResolver.ds18b20(root: fake.path, id: ShortName())
    fake.file("bus/w1/devices/28-0000075c293f/temperature", "")
    #expect(what(sampleNow(source)) == "no_data")
    fake.remove("bus/w1/devices/28-0000075c293f")
    let gone = sampleNow(source)
    #expect(what(gone) == "missing" && gone.failure?.errno == ENOENT && gone.count == 0)

    let old = FakeSysfs()
    old.w1([("28-0000075c293f", -1250)], slaveFile: true)
    let slave = try SensorResolver.ds18b20(root: old.path, id: ShortName())
    #expect(slave[0].path.withBytes { String(decoding: bytesOf($0), as: UTF8.self) }.hasSuffix("/w1_slave"))
    let good = sampleNow(slave)
    #expect(good.failure == nil && abs(good.values[0] + 1.25) < 1e-9)
    old.file(
      "bus/w1/devices/28-0000075c293f/w1_slave",
      "72 01 4b 46 7f ff 0e 10 57 : crc=12 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n")
    #expect(what(sampleNow(slave)) == "crc")
    old.file(
      "bus/w1/devices/28-0000075c293f/w1_slave",
      "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n")
    #expect(what(sampleNow(slave)) == "disconnected")
  }

  // MARK: iio

  /// An ADS1115 (ti-ads1015: a `_scale` per channel), an MCP3008 (mcp320x: one
  /// `in_voltage_scale` shared by the type) and a channel with an `_offset`.
  @Test func iioRawWithTheDriversOwnScaleAndOffset() throws {
    let fake = FakeSysfs()
    fake.file("bus/iio/devices/iio:device0/name", "ads1015\n")
    fake.file("bus/iio/devices/iio:device0/in_voltage0_raw", "16000\n")
    fake.file("bus/iio/devices/iio:device0/in_voltage0_scale", "0.187500000\n")
    fake.file("bus/iio/devices/iio:device0/in_voltage1_raw", "-800\n")
    fake.file("bus/iio/devices/iio:device0/in_voltage1_scale", "0.125000000\n")
    // Gaps in the numbering (device 1 was unplugged) do not end the search.
    fake.file("bus/iio/devices/iio:device2/name", "mcp3008\n")
    fake.file("bus/iio/devices/iio:device2/in_voltage0_raw", "512\n")
    fake.file("bus/iio/devices/iio:device2/in_voltage7_raw", "1023\n")
    fake.file("bus/iio/devices/iio:device2/in_voltage_scale", "3.222656250\n")
    fake.file("bus/iio/devices/iio:device3/name", "tmp-sensor\n")
    fake.file("bus/iio/devices/iio:device3/in_temp_raw", "400\n")
    fake.file("bus/iio/devices/iio:device3/in_temp_offset", "100\n")
    fake.file("bus/iio/devices/iio:device3/in_temp_scale", "50\n")

    let ads = try SensorResolver.iio(
      root: fake.path, device: ShortName("ads1015"), channels: SensorNames(["in_voltage0", "in_voltage1"]))
    #expect(ads.device == ShortName("iio:device0") && ads.count == 2)
    #expect(ads[0].key == ShortName("voltage0") && ads[0].unit == ShortName("V"))
    let adsSample = sampleNow(ads)
    #expect(abs(adsSample.values[0] - 3.0) < 1e-9)  // 16000 × 0.1875 mV
    #expect(abs(adsSample.values[1] + 0.1) < 1e-9)  // −800 × 0.125 mV

    let mcp = try SensorResolver.iio(
      root: fake.path, device: ShortName("mcp3008"), channels: SensorNames(["in_voltage0", "in_voltage7"]))
    #expect(mcp.device == ShortName("iio:device2"))
    let mcpSample = sampleNow(mcp)
    #expect(abs(mcpSample.values[0] - 1.65) < 1e-9)  // 512 × 3.22265625 mV, the shared scale
    #expect(abs(mcpSample.values[1] - 3.296777) < 1e-6)

    let temp = try SensorResolver.iio(
      root: fake.path, device: ShortName("tmp-sensor"), channels: SensorNames(["in_temp"]))
    #expect(temp[0].key == ShortName("temperature") && temp[0].unit == ShortName("°C"))
    #expect(abs(sampleNow(temp).values[0] - 25) < 1e-9)  // (400 + 100) × 50 milli-°C
  }

  /// An MLX90614 as its driver (mlx90614) lays it out, copied from the emulated board's
  /// (cross/gpio-sim): two modified channels share the `_offset` and `_scale` of their type
  /// (`in_temp_offset`, not `in_temp_ambient_offset`).
  @Test func iioModifiedChannelsUseTheirTypesSharedOffsetAndScale() throws {
    let fake = FakeSysfs()
    fake.file("bus/iio/devices/iio:device1/name", "mlx90614\n")
    fake.file("bus/iio/devices/iio:device1/in_temp_ambient_raw", "14950\n")
    fake.file("bus/iio/devices/iio:device1/in_temp_object_raw", "15500\n")
    fake.file("bus/iio/devices/iio:device1/in_temp_offset", "-13657.500000\n")
    fake.file("bus/iio/devices/iio:device1/in_temp_scale", "20\n")
    fake.file("bus/iio/devices/iio:device1/in_temp_object_calibemissivity", "1.000000000\n")
    let mlx = try SensorResolver.iio(
      root: fake.path, device: ShortName("mlx90614"),
      channels: SensorNames(["in_temp_ambient", "in_temp_object"]))
    #expect(mlx[0].key == ShortName("temp_ambient") && mlx[0].unit == ShortName("°C"))
    #expect(mlx[1].key == ShortName("temp_object") && mlx[1].unit == ShortName("°C"))
    let sample = sampleNow(mlx)
    #expect(abs(sample.values[0] - 25.85) < 1e-9)  // (14950 − 13657.5) × 20 milli-°C
    #expect(abs(sample.values[1] - 36.85) < 1e-9)
  }

  /// A BME280 (bmp280 driver: processed `_input` values) reports three values in one sample:
  /// milli-°C, milli-%RH and kPa become °C, %RH and kPa.
  @Test func iioBME280ThreeValuesInOneSample() throws {
    let fake = FakeSysfs()
    fake.file("bus/iio/devices/iio:device0/name", "bme280\n")
    fake.file("bus/iio/devices/iio:device0/in_temp_input", "21370\n")
    fake.file("bus/iio/devices/iio:device0/in_humidityrelative_input", "45123\n")
    fake.file("bus/iio/devices/iio:device0/in_pressure_input", "100.768554687\n")
    fake.file("bus/iio/devices/iio:device0/in_temp_oversampling_ratio", "2\n")
    let bme = try SensorResolver.iio(
      root: fake.path, device: ShortName("bme280"),
      channels: SensorNames(["in_temp", "in_humidityrelative", "in_pressure"]))
    #expect(
      (0..<bme.count).map { bme[$0].key.withBytes { String(decoding: bytesOf($0), as: UTF8.self) } } == [
        "temperature", "humidity", "pressure",
      ])
    #expect(
      (0..<bme.count).map { bme[$0].unit.withBytes { String(decoding: bytesOf($0), as: UTF8.self) } } == [
        "°C", "%RH", "kPa",
      ])
    let sample = sampleNow(bme)
    #expect(sample.failure == nil && sample.count == 3)
    #expect(abs(sample.values[0] - 21.37) < 1e-9)
    #expect(abs(sample.values[1] - 45.123) < 1e-9)
    #expect(abs(sample.values[2] - 100.768554687) < 1e-9)
    // Unplugged: the device's files are gone, and the sample says which channel failed first.
    fake.remove("bus/iio/devices/iio:device0")
    let gone = sampleNow(bme)
    #expect(what(gone) == "missing" && gone.failure?.channel == 0)
  }

  @Test func iioErrorsListTheDevicesFound() {
    let fake = FakeSysfs()
    let none = failure(fake) { () throws(SensorSetupError) in
      try SensorResolver.iio(root: fake.path, device: ShortName("bme280"), channels: SensorNames(["in_temp"]))
    }
    #expect(none?.message == "no device of this kind exists")
    #expect(none?.hint.contains("dtoverlay=i2c-sensor,bme280") == true)
    fake.file("bus/iio/devices/iio:device0/name", "ads1015\n")
    fake.file("bus/iio/devices/iio:device0/in_voltage0_raw", "1\n")
    fake.file("bus/iio/devices/iio:device1/name", "mcp3008\n")
    let wrong = failure(fake) { () throws(SensorSetupError) in
      try SensorResolver.iio(root: fake.path, device: ShortName("bme280"), channels: SensorNames(["in_temp"]))
    }
    #expect(wrong?.message == "no device with this name" && wrong?.found == "ads1015, mcp3008")
    let channel = failure(fake) { () throws(SensorSetupError) in
      try SensorResolver.iio(
        root: fake.path, device: ShortName("ads1015"), channels: SensorNames(["in_voltage3"]))
    }
    #expect(channel?.message == "the IIO device has no such channel (no _raw or _input file)")
    #expect(channel?.path == "/bus/iio/devices/iio:device0/in_voltage3")
  }

  /// Two ADS1115s share the name `ads1015`; the device-tree label picks one.
  @Test func iioByLabel() throws {
    let fake = FakeSysfs()
    for (n, label) in ["battery", "solar"].enumerated() {
      fake.file("bus/iio/devices/iio:device\(n)/name", "ads1015\n")
      fake.file("bus/iio/devices/iio:device\(n)/label", label + "\n")
      fake.file("bus/iio/devices/iio:device\(n)/in_voltage0_raw", "\(1000 * (n + 1))\n")
      fake.file("bus/iio/devices/iio:device\(n)/in_voltage0_scale", "1\n")
    }
    let solar = try SensorResolver.iio(
      root: fake.path, device: ShortName("solar"), channels: SensorNames(["in_voltage0"]))
    #expect(solar.device == ShortName("iio:device1") && sampleNow(solar).values[0] == 2)
    let first = try SensorResolver.iio(
      root: fake.path, device: ShortName("ads1015"), channels: SensorNames(["in_voltage0"]))
    #expect(first.device == ShortName("iio:device0"))
  }

  // MARK: records

  /// A BME280's sample through one chain per channel makes one record; a one-channel source
  /// writes value and unit as the sampler does; an error names the channel; a heartbeat's
  /// repeat is marked.
  @Test func recordsOfSamples() throws {
    let fake = FakeSysfs()
    fake.file("bus/iio/devices/iio:device0/name", "bme280\n")
    fake.file("bus/iio/devices/iio:device0/in_temp_input", "21370\n")
    fake.file("bus/iio/devices/iio:device0/in_humidityrelative_input", "45123\n")
    fake.file("bus/iio/devices/iio:device0/in_pressure_input", "100.768554687\n")
    let bme = try SensorResolver.iio(
      root: fake.path, device: ShortName("bme280"),
      channels: SensorNames(["in_temp", "in_humidityrelative", "in_pressure"]))
    var filters = SensorFilters()
    var specs = InlineArray<6, FilterSpec>(repeating: .delta(minimum: 0))
    specs[0] = .delta(minimum: 1)
    specs[1] = .heartbeat(interval: .seconds(60))
    filters.set(try FilterChain(specs, count: 2), channel: 1)  // humidity: on a 1 %RH move, or every minute
    func line(_ values: SensorValues, repeated: Bool = false) -> String {
      var record = RecordLine(time: values.time, wall: 0, task: ShortName("air"))
      SensorRecord.reading(values, of: bme, repeated: repeated, into: &record)
      record.finish()
      return record.withBytes { String(decoding: bytesOf($0), as: UTF8.self) }
    }
    let first = sampleNow(bme)
    let t = first.tick.nanoseconds
    #expect(
      line(filters.filter(first))
        == "{\"t_ns\":\(t),\"wall_ns\":0,\"task\":\"air\",\"event\":\"reading\",\"temperature\":21.370,\"humidity\":45.123,\"pressure\":100.769}\n"
    )
    // The same humidity again is dropped by its delta filter; the others pass.
    #expect(line(filters.filter(first)).contains("\"temperature\":21.370,\"pressure\":100.769}"))
    #expect(filters.nextDue == first.tick + .seconds(60))
    let early = filters.repeats(now: first.tick + .seconds(59))
    #expect(early == nil)
    let due = filters.repeats(now: first.tick + .seconds(61))
    let beat = try #require(due)
    #expect(
      line(beat, repeated: true)
        == "{\"t_ns\":\(t + 60_000_000_000),\"wall_ns\":0,\"task\":\"air\",\"event\":\"reading\",\"humidity\":45.123,\"repeat\":true}\n"
    )

    let one = FakeSysfs()
    one.w1([("28-0000075c293f", 21375)])
    let tank = try SensorResolver.ds18b20(root: one.path, id: ShortName())
    var none = SensorFilters()
    var record = RecordLine(time: .zero, wall: 0, task: ShortName("tank"))
    SensorRecord.reading(none.filter(sampleNow(tank)), of: tank, repeated: false, into: &record)
    record.finish()
    #expect(
      record.withBytes { String(decoding: bytesOf($0), as: UTF8.self) }
        == "{\"t_ns\":0,\"wall_ns\":0,\"task\":\"tank\",\"event\":\"reading\",\"value\":21.375,\"unit\":\"°C\"}\n"
    )
    one.file("bus/w1/devices/28-0000075c293f/temperature", "")
    let failed = sampleNow(tank)
    #expect(none.filter(failed).isEmpty)
    var error = RecordLine(time: .zero, wall: 0, task: ShortName("tank"))
    SensorRecord.error(failed.failure!, of: tank, into: &error)
    error.finish()
    #expect(
      error.withBytes { String(decoding: bytesOf($0), as: UTF8.self) }
        == "{\"t_ns\":0,\"wall_ns\":0,\"task\":\"tank\",\"event\":\"error\",\"error\":\"no_data\",\"channel\":\"temperature\"}\n"
    )
  }

  // MARK: hwmon

  @Test func hwmonInputsInFixedUnits() throws {
    let fake = FakeSysfs()
    fake.file("class/hwmon/hwmon0/name", "rpi_volt\n")
    fake.file("class/hwmon/hwmon1/name", "cpu_thermal\n")
    fake.file("class/hwmon/hwmon1/temp1_input", "48312\n")
    fake.file("class/hwmon/hwmon2/name", "pwmfan\n")
    fake.file("class/hwmon/hwmon2/fan1_input", "2400\n")
    // An older driver: the attributes in the device's directory.
    fake.file("class/hwmon/hwmon3/name", "ina219\n")
    fake.file("class/hwmon/hwmon3/device/in1_input", "5012\n")
    fake.file("class/hwmon/hwmon3/device/curr1_input", "250\n")
    fake.file("class/hwmon/hwmon3/device/power1_input", "1253000\n")

    let cpu = try SensorResolver.hwmon(
      root: fake.path, device: ShortName("cpu_thermal"), inputs: SensorNames(["temp1_input"]))
    #expect(
      cpu.device == ShortName("hwmon1") && cpu[0].key == ShortName("temp1") && cpu[0].unit == ShortName("°C"))
    #expect(abs(sampleNow(cpu).values[0] - 48.312) < 1e-9)
    let fan = try SensorResolver.hwmon(
      root: fake.path, device: ShortName("pwmfan"), inputs: SensorNames(["fan1_input"]))
    #expect(sampleNow(fan).values[0] == 2400 && fan[0].unit == ShortName("RPM"))
    let ina = try SensorResolver.hwmon(
      root: fake.path, device: ShortName("ina219"),
      inputs: SensorNames(["in1_input", "curr1_input", "power1_input"]))
    let s = sampleNow(ina)
    #expect(
      abs(s.values[0] - 5.012) < 1e-9 && abs(s.values[1] - 0.25) < 1e-9 && abs(s.values[2] - 1.253) < 1e-9)

    let bad = failure(fake) { () throws(SensorSetupError) in
      try SensorResolver.hwmon(
        root: fake.path, device: ShortName("cpu_thermal"), inputs: SensorNames(["temp2_input"]))
    }
    #expect(
      bad?.message == "the hwmon device has no such input" && bad?.path == "/class/hwmon/hwmon1/temp2_input")
    let missing = failure(fake) { () throws(SensorSetupError) in
      try SensorResolver.hwmon(
        root: fake.path, device: ShortName("sht3x"), inputs: SensorNames(["temp1_input"]))
    }
    #expect(missing?.found == "rpi_volt, cpu_thermal, pwmfan, ina219")
    // Unplugged after startup: the read fails as missing.
    fake.remove("class/hwmon/hwmon1")
    #expect(what(sampleNow(cpu)) == "missing")
  }

  // MARK: the real worker, no heap

  /// A BME280's three values through the program's `BlockingWorker`, read again and again:
  /// after the first sample nothing is allocated (the counter counts this thread only; the
  /// worker's threads only read).
  @Test func realWorkerReadsASampleWithoutAllocating() throws {
    let fake = FakeSysfs()
    fake.file("bus/iio/devices/iio:device0/name", "bme280\n")
    fake.file("bus/iio/devices/iio:device0/in_temp_input", "21370\n")
    fake.file("bus/iio/devices/iio:device0/in_humidityrelative_input", "45123\n")
    fake.file("bus/iio/devices/iio:device0/in_pressure_input", "100.768554687\n")
    let bme = try SensorResolver.iio(
      root: fake.path, device: ShortName("bme280"),
      channels: SensorNames(["in_temp", "in_humidityrelative", "in_pressure"]))
    var platform = try EpollPlatform()
    let trigger = try platform.makeTrigger(for: Interrupt(7))
    var worker = try BlockingWorker(slots: 4, threads: 2, trigger: trigger)
    var reader = SensorReader(source: bme, slot: 2)
    var chains = InlineArray<4, FilterChain>(repeating: FilterChain())
    var specs = InlineArray<6, FilterSpec>(repeating: .delta(minimum: 0))
    specs[0] = .median(window: 5)
    specs[1] = .exponential(alpha: 0.3)
    for c in 0..<3 { chains[c] = try FilterChain(specs, count: 2) }

    func sample(_ tick: Instant) -> SensorSample {
      _ = reader.start(&worker, tick: tick, waker: waker)
      while true {
        _ = worker.waitUntilDone(2, until: monotonicNow() + .seconds(10))
        if let s = reader.collect(&worker, waker: waker) { return s }
      }
    }

    let first = sample(monotonicNow())
    #expect(first.failure == nil && first.count == 3)
    #expect(abs(first.values[2] - 100.768554687) < 1e-9)
    // The first feed instantiates the filters' type metadata (a host runtime's one-time cost).
    for c in 0..<3 { _ = chains[c].feed(first.values[c], at: first.tick) }
    var good = 0
    var last = 0.0
    let before = sl_alloc_count_thread()
    for _ in 0..<200 {
      let s = sample(monotonicNow())
      if s.failure == nil && s.count == 3 { good += 1 }
      for c in 0..<3 { if let v = chains[c].feed(s.values[c], at: s.tick) { last = v } }
    }
    let allocations = sl_alloc_count_thread() - before
    if sl_alloc_counter_active() != 0 { #expect(allocations == 0) }
    #expect(good == 200)
    #expect(abs(last - 100.768554687) < 1e-6)
  }
}

/// The bytes of fixed text (`FixedText.withBytes` lends a buffer, `RecordLine`'s a span).
func bytesOf(_ buffer: UnsafeBufferPointer<UInt8>) -> [UInt8] { Array(buffer) }
