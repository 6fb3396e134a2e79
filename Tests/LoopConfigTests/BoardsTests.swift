// Every file in Boards/ loads and validates, and wires what Boards/README.md says it does.

import Foundation
import LoopConfig
import LoopCore
import LoopGPIO
import LoopTasks
import Testing

@Suite struct BoardsTests {
  static let files = [
    "sim.json", "pi-zero-2w.json", "pi-3b.json", "pi-4b.json", "pi-5.json", "weather-station.json",
    "fan-controller.json",
  ]

  @Test(arguments: files) func boardFileLoads(name: String) throws {
    let path = repositoryRoot.appendingPathComponent("Boards").appendingPathComponent(name).path
    let config: BoardConfig
    do throws(ConfigError) {
      config = try loadBoardConfig(path: Array(path.utf8))
    } catch {
      Issue.record(Comment(rawValue: String(decoding: error.rendered, as: UTF8.self)))
      return
    }
    #expect(config.tasks.count >= 7)
    let plan = CapacityPlan(config)
    for row in plan.rows { #expect(row.used <= row.limit) }
  }

  /// Finding 12 of issue 13: the shipped unit (`DynamicUser=yes`, `DevicePolicy=closed`) cannot
  /// open /dev/watchdog, so every shipped config's watchdog supervises without a device
  /// (systemd's `WatchdogSec=` resets a stalled service).
  @Test(arguments: files) func watchdogHasNoDevice(name: String) throws {
    let path = repositoryRoot.appendingPathComponent("Boards").appendingPathComponent(name).path
    let config = try loadBoardConfig(path: Array(path.utf8))
    let watchdogs = config.tasks.elements.compactMap { task -> WatchdogConfig? in
      if case .watchdog(let watchdog) = task.kind { return watchdog }
      return nil
    }
    #expect(watchdogs.count == 1)
    #expect(watchdogs.allSatisfy { $0.device == nil })
  }

  /// Boards/README.md's fan controller: the SoC temperature (hwmon `cpu_thermal`) sets the
  /// hardware PWM fan's duty through a curve; the tachometer counts on its own line.
  @Test func theFanControllerRunsTheFanOnACurve() throws {
    let path = repositoryRoot.appendingPathComponent("Boards/fan-controller.json").path
    let config = try loadBoardConfig(path: Array(path.utf8))
    func index(_ name: String) throws -> Int {
      try #require(config.tasks.indices.first { config.tasks[$0].name.string == name }, "no task \(name)")
    }
    guard case .curve(let curve) = config.tasks[try index("fan_curve")].kind else {
      Issue.record("fan_curve is not a curve")
      return
    }
    let (soc, fan) = (try index("soc"), try index("fan"))
    #expect(curve.source == soc && curve.pwm == fan)
    #expect(curve.points.count == 4)
    #expect(curve.points[0].duty.double == 20 && curve.points[3].duty.double == 100)
    guard case .sensor(let sensor) = config.tasks[soc].kind,
      case .pwmHardware(let pwm) = config.tasks[fan].kind,
      case .pulseCounter(let tach) = config.tasks[try index("tach")].kind
    else {
      Issue.record("soc, fan, tach are not a sensor, a pwm_hw and a pulse_counter")
      return
    }
    #expect(sensor.preset == .hwmon && sensor.device.string == "cpu_thermal")
    #expect(pwm.chip == .driver(ShortPWMName("brcm,bcm2835-pwm")) && pwm.channel == 0)
    #expect(pwm.period == .microseconds(40) && pwm.dutyPercent.double == 100)
    #expect(config.lines[tach.line].id.string == "tach")
  }

  @Test func everyBoardFileIsTested() throws {
    let listed = try FileManager.default.contentsOfDirectory(
      atPath: repositoryRoot.appendingPathComponent("Boards").path
    ).filter { $0.hasSuffix(".json") }.sorted()
    #expect(listed == Self.files.sorted())
  }
}
