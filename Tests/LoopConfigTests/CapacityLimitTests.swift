// "A config that loads can always start" (issue 13, finding 6): `largest.json` is the largest
// config the capacity plan allows, every limit at its maximum; the end-to-end test starts it
// under systemd. Here: its plan is exactly at the limits, and one more of anything is refused
// before anything starts, with a message saying what and why.

import Foundation
import LoopConfig
import Testing

@Suite struct CapacityLimitTests {
  static let largest = repositoryRoot.appendingPathComponent("Tests/LoopConfigTests/largest.json")

  /// The largest config as a JSON object to change.
  func largest() throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: Self.largest)) as! [String: Any]
  }

  /// The message `object` gives as board.json ("ok" when it loads).
  func message(of object: [String: Any]) throws -> String {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return LoopConfigTests.message(String(decoding: data, as: UTF8.self))
  }

  @Test func theLargestConfigIsAtEveryLimit() throws {
    let config = try valid(String(contentsOf: Self.largest, encoding: .utf8))
    let plan = CapacityPlan(config)
    #expect(config.tasks.count == ConfigLimits.maxTasks)
    #expect(config.lines.count == ConfigLimits.maxLines)
    #expect(config.stimuli.count == ConfigLimits.maxStimuli)
    #expect(config.output.ringBytes == ConfigLimits.ringBytes.upperBound)
    #expect(plan.slots.used == ConfigLimits.maxSlots)
    #expect(plan.fds.used == ConfigLimits.maxFds)
    // Timers and interrupt lines cannot reach theirs: a slot holds at most one timer, and
    // interrupts are 8 + one per line.
    #expect(plan.timers.used == 29 && plan.timers.used <= ConfigLimits.maxTimers)
    #expect(plan.interrupts.used == ConfigLimits.systemInterrupts + ConfigLimits.maxLines)
    // Every heartbeat keeps its 16 steps.
    for task in config.tasks.elements {
      if case .heartbeat(let heartbeat) = task.kind {
        #expect(heartbeat.pattern.count == ConfigLimits.maxPatternSteps)
      }
    }
  }

  @Test func oneMoreTaskIsRefused() throws {
    var object = try largest()
    var tasks = object["tasks"] as! [[String: Any]]
    tasks.append(["name": "extra", "kind": "ticker", "period_ms": 100])
    object["tasks"] = tasks
    #expect(
      try message(of: object).contains("tasks: expected at most 32 tasks (the fixed capacity), found 33"))
  }

  @Test func oneMoreLineIsRefused() throws {
    var object = try largest()
    var lines = object["lines"] as! [String: Any]
    lines["extra"] = ["name": "GPIO300", "direction": "output"]
    object["lines"] = lines
    #expect(
      try message(of: object).contains("lines: expected at most 32 lines (the fixed capacity), found 33"))
  }

  /// A second sim file needs a 41st slot: the 6 reserved for sensorloop (output writer, signal
  /// handler, summary writer, worker dispatcher, --duration, systemd keepalive) are counted.
  @Test func oneMoreSlotIsRefused() throws {
    var object = try largest()
    var sim = object["sim"] as! [String: Any]
    var files = sim["files"] as! [[String: Any]]
    files.append(["path": "/tmp/sensorloop-largest-d", "values": [3]])
    sim["files"] = files
    object["sim"] = sim
    #expect(
      try message(of: object).contains(
        "tasks: the config needs 41 slots, more than the 40 sensorloop is built for (one per task, 6 for sensorloop"
      ))
  }

  /// The watchdog device is one more fd.
  @Test func oneMoreFileDescriptorIsRefused() throws {
    var object = try largest()
    var tasks = object["tasks"] as! [[String: Any]]
    let index = tasks.firstIndex { $0["kind"] as? String == "watchdog" }!
    tasks[index]["device"] = "/dev/watchdog"
    object["tasks"] = tasks
    #expect(
      try message(of: object).contains(
        "tasks: the config needs 65 fds, more than the 64 sensorloop is built for (6 for the platform and its workers, 1 for systemd"
      ))
  }

  @Test func oneMoreStimulusIsRefused() throws {
    var object = try largest()
    var sim = object["sim"] as! [String: Any]
    var stimuli = sim["stimuli"] as! [[String: Any]]
    stimuli.append(stimuli.last!)
    sim["stimuli"] = stimuli
    object["sim"] = sim
    #expect(
      try message(of: object).contains(
        "sim.stimuli: expected at most 64 stimuli (the fixed capacity), found 65"))
  }

  @Test func oneMoreRingByteIsRefused() throws {
    var object = try largest()
    object["output"] = ["to": "/tmp/sensorloop-largest-out", "ring_bytes": 65_537]
    #expect(try message(of: object).contains("output.ring_bytes: expected"))
  }

  @Test func twoMorePatternStepsAreRefused() throws {
    var object = try largest()
    var tasks = object["tasks"] as! [[String: Any]]
    let index = tasks.firstIndex { $0["kind"] as? String == "heartbeat" }!
    tasks[index]["pattern_ms"] = Array(repeating: 10, count: 18)
    object["tasks"] = tasks
    #expect(
      try message(of: object).contains(
        ".pattern_ms: expected an even number (2 to 16) of durations: on, off, on, off ...; found 18"))
  }

  /// On a real chip a line costs two fds (libgpiod v1: the line's own chip fd and its request
  /// fd) and the chip opened for lookups one more: 28 lines fit in 64 with nothing else.
  @Test func realChipLinesCostTwoFileDescriptors() throws {
    func board(lines count: Int) -> String {
      let lines = (0..<count).map { #""l\#($0)": { "offset": \#($0), "direction": "output" }"# }
      return """
        { "board": "b", "gpio": { "chip": "gpiochip9" }, "lines": { \(lines.joined(separator: ", ")) },
          "tasks": [{ "name": "t", "kind": "ticker", "period_ms": 10 }] }
        """
    }
    let config = try valid(board(lines: 28))
    // 6 platform (with the worker threads' eventfds) + 1 systemd + 1 lookup chip + 2 × 28.
    #expect(CapacityPlan(config).fds.used == 64)
    #expect(LoopConfigTests.message(board(lines: 29)).contains("the config needs 66 fds, more than the 64"))
  }
}
