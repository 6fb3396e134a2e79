// The capacities the config is checked against are the firmware's own: the slots and timers
// the capacity plan counts fit the executor the program runs, and every kind the validator
// reads is registered once and builds a task.

import Foundation
import LoopCore
import LoopTasks
import LoopTesting
import Testing

@testable import LoopConfig

@Suite struct LimitsTests {
  /// `ConfigLimits.maxSlots` tasks fit the firmware's executor, each with a timer armed, and
  /// one more is refused: the plan's "slots" and "timers" limits are the executor's.
  @Test func thePlansSlotsAndTimersAreTheExecutors() {
    var firmware = Firmware(platform: VirtualPlatform(), world: FirmwareWorld(outputFD: -1), start: .zero)
    for i in 0..<ConfigLimits.maxSlots {
      // Task indices key the world's per-task tables (`FirmwareLimits.tasks` of them).
      let task = FirmwareTask.ticker(
        TickerTask(index: i % FirmwareLimits.tasks, period: .milliseconds(10), start: .zero))
      #expect(throws: Never.self) { try firmware.spawn(task) }
    }
    #expect(throws: CapacityError.self) {
      try firmware.spawn(.ticker(TickerTask(index: 0, period: .milliseconds(10), start: .zero)))
    }
    // Every ticker's first poll arms its timer: a full timer queue would count task errors.
    _ = firmware.executor.runUntilStalled(&firmware.world)
    var errors: UInt64 = 0
    for i in 0..<FirmwareLimits.tasks { errors += firmware.world.counters[i].errors }
    #expect(errors == 0)
    #expect(ConfigLimits.maxTimers == ConfigLimits.maxSlots)
  }

  /// The limits that are the firmware's tables are taken from it.
  @Test func theConfigsLimitsAreTheFirmwares() {
    #expect(ConfigLimits.maxTasks == FirmwareLimits.tasks)
    #expect(ConfigLimits.maxLines == FirmwareLimits.lines)
    #expect(ConfigLimits.maxSlots == FirmwareLimits.tasks + FirmwareLimits.systemTasks)
    #expect(ConfigLimits.systemInterrupts == FirmwareInterrupt.firstLine)
    #expect(ConfigLimits.workerThreads == FirmwareLimits.workerThreads)
    #expect(ConfigLimits.maxWatchersPerSource == FirmwareLimits.subscribers)
    #expect(ConfigLimits.ringBytes.upperBound == FirmwareLimits.outputBytes)
    #expect(ConfigLimits.maxPatternSteps == PatternSteps.count)
  }

  /// Each kind is registered once, under the name its file gives, and the registry finds it.
  @Test func everyKindIsRegisteredOnce() throws {
    let names = TaskKind.registry.map { String(describing: $0.name) }
    #expect(Set(names).count == names.count)
    #expect(
      names == [
        "heartbeat", "button", "pulse_counter", "sampler", "encoder", "threshold", "watchdog", "ticker",
        "pwm", "sensor", "pwm_hw", "switch", "curve",
      ])
    // Boards/sim.json runs every kind but the two that need a kernel driver's sysfs files
    // (sensor, pwm_hw: Boards/weather-station.json and fan-controller.json, checked by
    // BoardsTests; run over a fake sysfs tree by SensorEndToEndTests): each task's kind is
    // found under the name it was written with.
    let config = try valid(
      String(contentsOf: repositoryRoot.appendingPathComponent("Boards/sim.json"), encoding: .utf8))
    var seen = Set<String>()
    for task in config.tasks.elements { seen.insert(String(describing: task.entry.name)) }
    #expect(seen == Set(names).subtracting(["sensor", "pwm_hw"]))
  }
}
