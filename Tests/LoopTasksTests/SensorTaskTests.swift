// SensorTask on an executor in virtual time (no worker: reads at once on the loop thread, as
// on the simulated board), over a fake BME280 and DS18B20: records on the period's grid, a
// delta filter with a heartbeat behind it, an unplugged sensor's error records and its return,
// and no heap in the steady state. Not a FirmwareTask case yet, so the test has its own task
// type around it.

import AllocCounter
import Foundation
import HostTestSupport
import LoopCore
import LoopLinux
import LoopTasks
import LoopTesting
import Testing

/// The tasks of these tests: the sensor task and a stop at a deadline.
enum SensorTestTask: TaskBody {
  typealias World = FirmwareWorld
  case sensor(SensorTask)
  case stop(Instant)

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    switch self {
    case .sensor(var task):
      defer { self = .sensor(task) }
      return task.poll(&cx, &world)
    case .stop(let deadline):
      if cx.now >= deadline {
        cx.stopExecutor()
        return .ready(())
      }
      try? cx.wake(at: deadline)
      return .pending
    }
  }
}

/// An executor on a jumping virtual clock with one world writing records into a pipe.
struct SensorTaskHarness: ~Copyable {
  static let start = Instant(nanoseconds: 1_000_000_000)
  var executor = Executor<4, 8, SensorTestTask, VirtualPlatform>(
    platform: VirtualPlatform(start: SensorTaskHarness.start, advancesToDeadline: true))
  var world: FirmwareWorld
  let pipe: LoopLinux.Pipe
  var text = ""

  init() {
    pipe = try! FileDescriptor.pipe(nonBlocking: true)
    world = FirmwareWorld(outputFD: pipe.write.rawValue)
    world.names[0] = ShortName("air")
  }

  /// Runs until `seconds` after the start; the records written since the last call.
  mutating func run(until seconds: Int64) -> [[String: Any]] {
    _ = try! executor.spawn(.stop(SensorTaskHarness.start + .seconds(seconds)))
    _ = executor.run(&world)
    while case .wrote(let n) = OutputWriter.drainOnce(&world), n > 0 {}
    var buffer = [UInt8](repeating: 0, count: 65_536)
    var fresh = ""
    while true {
      let n = buffer.withUnsafeMutableBytes { (try? pipe.read.read(into: $0)) ?? 0 }
      if n <= 0 { break }
      fresh += String(decoding: buffer[0..<n], as: UTF8.self)
    }
    return fresh.split(separator: "\n").map {
      try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
  }
}

/// Seconds after the harness's start of a record's t_ns.
private func seconds(_ record: [String: Any]) -> Double {
  Double((record["t_ns"] as! NSNumber).int64Value - SensorTaskHarness.start.nanoseconds) / 1e9
}

@Suite struct SensorTaskTests {
  /// A BME280 every 10 s; humidity only on a 1 %RH move or every 60 s. Its humidity changes at
  /// 35 s; it is unplugged from 52 s to 75 s.
  @Test func bme280RecordsInVirtualTime() throws {
    let fake = FakeSysfs()
    let dir = "bus/iio/devices/iio:device0/"
    fake.file(dir + "name", "bme280\n")
    fake.file(dir + "in_temp_input", "21370\n")
    fake.file(dir + "in_humidityrelative_input", "45123\n")
    fake.file(dir + "in_pressure_input", "100.768554687\n")
    let source = try SensorResolver.iio(
      root: fake.path, device: ShortName("bme280"),
      channels: SensorNames(["in_temp", "in_humidityrelative", "in_pressure"]))
    var filters = SensorFilters()
    var specs = InlineArray<6, FilterSpec>(repeating: .delta(minimum: 0))
    specs[0] = .delta(minimum: 1)
    specs[1] = .heartbeat(interval: .seconds(60))
    filters.set(try FilterChain(specs, count: 2), channel: 1)
    var h = SensorTaskHarness()
    _ = try h.executor.spawn(
      .sensor(
        SensorTask(
          index: 0, source: source, filters: filters, period: .seconds(10), start: SensorTaskHarness.start)))

    let first = h.run(until: 31)
    #expect(first.map(seconds) == [0, 10, 20, 30])
    #expect(first[0]["humidity"] as? Double == 45.123 && first[0]["pressure"] as? Double == 100.769)
    #expect(first[1]["humidity"] == nil && first[1]["temperature"] as? Double == 21.37)
    #expect(first.allSatisfy { $0["event"] as? String == "reading" && $0["read_us"] as? Int == 0 })

    fake.file(dir + "in_humidityrelative_input", "47000\n")
    let second = h.run(until: 51)
    #expect(second.map(seconds) == [40, 50])
    #expect(second[0]["humidity"] as? Double == 47.0)  // moved by 1.877 %RH
    #expect(second[1]["humidity"] == nil)

    fake.remove("bus/iio/devices/iio:device0")
    let unplugged = h.run(until: 71)
    #expect(unplugged.map(seconds) == [60, 70])
    #expect(unplugged.allSatisfy { $0["event"] as? String == "error" && $0["error"] as? String == "missing" })
    #expect(
      unplugged[0]["channel"] as? String == "temperature" && unplugged[0]["errno"] as? Int == Int(ENOENT))
    #expect(h.world.counters[0].errors == 2)

    fake.file(dir + "name", "bme280\n")
    fake.file(dir + "in_temp_input", "21370\n")
    fake.file(dir + "in_humidityrelative_input", "47000\n")
    fake.file(dir + "in_pressure_input", "100.768554687\n")
    let back = h.run(until: 101)
    // Back at 80 s; the humidity has not moved since 40 s, so its heartbeat repeats it at 100 s
    // (60 s after it last passed), in its own record after the 100 s reading (whose humidity
    // the delta filter dropped).
    #expect(back.map(seconds) == [80, 90, 100, 100])
    #expect(
      back[2]["repeat"] == nil && back[2]["humidity"] == nil && back[2]["temperature"] as? Double == 21.37)
    #expect(back[3]["repeat"] as? Bool == true && back[3]["humidity"] as? Double == 47.0)
    #expect(back[3]["temperature"] == nil)
    #expect(h.world.readings.latest(0).value == 21.37)
  }

  /// A DS18B20 read every second for an hour of board time: no heap after the first minute.
  @Test func aSteadyHourAllocatesNothing() throws {
    let fake = FakeSysfs()
    fake.w1([("28-0000075c293f", 21375)])
    let source = try SensorResolver.ds18b20(root: fake.path, id: ShortName())
    var filters = SensorFilters()
    var specs = InlineArray<6, FilterSpec>(repeating: .delta(minimum: 0))
    specs[0] = .median(window: 5)
    specs[1] = .delta(minimum: 0.1)
    specs[2] = .heartbeat(interval: .seconds(30))
    filters.set(try FilterChain(specs, count: 3), channel: 0)
    var h = SensorTaskHarness()
    _ = try h.executor.spawn(
      .sensor(
        SensorTask(
          index: 0, source: source, filters: filters, period: .seconds(1), start: SensorTaskHarness.start)))
    let warm = h.run(until: 60)
    #expect(warm.count == 3)  // the first reading, then heartbeats at 30 s and 60 s
    _ = try h.executor.spawn(.stop(SensorTaskHarness.start + .seconds(3_660)))
    let before = sl_alloc_count_thread()
    _ = h.executor.run(&h.world)
    let allocations = sl_alloc_count_thread() - before
    if sl_alloc_counter_active() != 0 { #expect(allocations == 0) }
    while case .wrote(let n) = OutputWriter.drainOnce(&h.world), n > 0 {}
    #expect(h.world.counters[0].records == 3 + 120)  // a heartbeat every 30 s
    #expect(h.world.counters[0].errors == 0 && h.world.counters[0].dropped == 0)
  }
}

/// The tasks of the real-time test: the sensor tasks, the worker's dispatcher and a stop.
enum SensorWorkerTask: TaskBody {
  typealias World = FirmwareWorld
  case sensor(SensorTask)
  case dispatch
  case stop(Instant)

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    switch self {
    case .sensor(var task):
      defer { self = .sensor(task) }
      return task.poll(&cx, &world)
    case .dispatch:
      world.worker!.dispatch(&cx)
      return .pending
    case .stop(let deadline):
      if cx.now >= deadline {
        cx.stopExecutor()
        return .ready(())
      }
      try? cx.wake(at: deadline)
      return .pending
    }
  }
}

@Suite struct SensorTaskWorkerTests {
  /// Through the program's worker on the epoll platform, in real time: a hwmon input that
  /// answers at once, and one whose read blocks (a FIFO standing in for a 1-Wire conversion
  /// that takes 450 ms) so the ticks meanwhile are `busy` and the reading, once it comes, is
  /// stamped with its tick and says how long the read took. Bounds are generous (a shared
  /// 2-core host): the order of events is what is checked.
  @Test func slowAndFastReadsOffTheLoop() throws {
    signal(SIGPIPE, SIG_IGN)
    let fake = FakeSysfs()
    fake.file("class/hwmon/hwmon0/name", "cpu_thermal\n")
    fake.file("class/hwmon/hwmon0/temp1_input", "48000\n")
    fake.file("class/hwmon/hwmon1/name", "slow\n")
    let fifo = fake.root + "/class/hwmon/hwmon1/temp1_input"
    try #require(mkfifo(fifo, 0o600) == 0)
    let fast = try SensorResolver.hwmon(
      root: fake.path, device: ShortName("cpu_thermal"), inputs: SensorNames(["temp1_input"]))
    let slow = try SensorResolver.hwmon(
      root: fake.path, device: ShortName("slow"), inputs: SensorNames(["temp1_input"]))

    var platform = try EpollPlatform()
    let pipe = try FileDescriptor.pipe(nonBlocking: true)
    var world = FirmwareWorld(outputFD: pipe.write.rawValue)
    world.output.limit = 65_536
    world.names[0] = ShortName("fast")
    world.names[1] = ShortName("slow")
    let trigger = try platform.makeTrigger(for: FirmwareInterrupt.workerDone)
    world.worker = try BlockingWorker(slots: 4, threads: 2, trigger: trigger)
    let start = platform.now() + .milliseconds(10)
    var executor = Executor<4, 8, SensorWorkerTask, EpollPlatform>(platform: platform)
    _ = try executor.spawn(.dispatch)
    _ = try executor.spawn(
      .sensor(
        SensorTask(index: 0, source: fast, filters: SensorFilters(), period: .milliseconds(100), start: start)
      ))
    _ = try executor.spawn(
      .sensor(
        SensorTask(index: 1, source: slow, filters: SensorFilters(), period: .milliseconds(100), start: start)
      ))
    _ = try executor.spawn(.stop(start + .milliseconds(1_000)))
    // The "sensor" answers 450 ms after the first tick, once; later reads block again.
    let answer = Thread {
      Thread.sleep(forTimeInterval: 0.46)
      let fd = open(fifo, O_WRONLY)
      _ = write(fd, "30000\n", 6)
      close(fd)
    }
    answer.start()
    _ = executor.run(&world)
    // Let the read still blocked end (EOF), so the worker thread is free again.
    let release = open(fifo, O_WRONLY | O_NONBLOCK)
    if release >= 0 { close(release) }

    while case .wrote(let n) = OutputWriter.drainOnce(&world), n > 0 {}
    var buffer = [UInt8](repeating: 0, count: 65_536)
    let n = buffer.withUnsafeMutableBytes { (try? pipe.read.read(into: $0)) ?? 0 }
    let records = String(decoding: buffer[0..<max(n, 0)], as: UTF8.self).split(separator: "\n").map {
      try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
    let fastReadings = records.filter {
      $0["task"] as? String == "fast" && $0["event"] as? String == "reading"
    }
    #expect(fastReadings.count >= 5)
    #expect(fastReadings.allSatisfy { $0["value"] as? Double == 48.0 && $0["unit"] as? String == "°C" })
    let slowRecords = records.filter { $0["task"] as? String == "slow" }
    let reading = try #require(slowRecords.first { $0["event"] as? String == "reading" })
    #expect(reading["value"] as? Double == 30.0)
    #expect((reading["t_ns"] as! NSNumber).int64Value == start.nanoseconds)  // stamped with its tick
    #expect((reading["read_us"] as! Int) >= 400_000)
    let busyBefore = slowRecords.prefix { $0["event"] as? String == "busy" }
    #expect(busyBefore.count >= 3)  // the ticks while the first read was in flight
    #expect(world.counters[0].errors == 0 && world.counters[1].errors == 0)
  }
}
