// The heartbeat kind: blinks an output line in a repeating on/off pattern.
// {"name": "blink", "kind": "heartbeat", "line": "led", "pattern_ms": [100, 900]}

import LoopCore
import LoopLinux
import LoopTasks

/// Blinks an output line: on for `pattern[0]`, off for `pattern[1]`, on for `pattern[2]` ...
public struct HeartbeatConfig: Equatable, Sendable {
  /// The output line (index into `BoardConfig.lines`).
  public var line: Int
  /// Alternating on/off durations, an even count of 2 to `ConfigLimits.maxPatternSteps`.
  public var pattern: FixedList<16, Duration>
}

extension HeartbeatConfig: TaskKindDescription {
  static var name: StaticString { "heartbeat" }
  static var what: StaticString { "a heartbeat task" }
  static var keys: StaticString { "line pattern_ms" }
  static var isPeriodic: Bool { true }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let line = try v.lineRef(task, "line", LineNeed(direction: .output, edges: nil))
    return HeartbeatConfig(line: line, pattern: try pattern(&v, task.node))
  }

  /// `pattern_ms`: 100 ms on, 900 ms off when absent.
  private static func pattern(_ v: inout Validator, _ object: Int) throws(ConfigError) -> FixedList<
    16, Duration
  > {
    var result = FixedList<16, Duration>()
    guard let node = v.doc.member(object, "pattern_ms") else {
      result.append(.milliseconds(100))
      result.append(.milliseconds(900))
      return result
    }
    let mark = v.push("pattern_ms")
    defer { v.pop(mark) }
    guard v.kind(node) == .array else {
      throw v.mismatch(
        .type, at: node,
        expected: bytes(
          "an array of 2 to ", ConfigLimits.maxPatternSteps,
          " durations in milliseconds: on, off, on, off ..."))
    }
    let count = Int(v.doc.nodes[node].a)
    guard count >= 2 && count <= ConfigLimits.maxPatternSteps && count % 2 == 0 else {
      var message: [UInt8] = []
      message.append("expected an even number (2 to ")
      message.appendDecimal(ConfigLimits.maxPatternSteps)
      message.append(") of durations: on, off, on, off ...; found ")
      message.appendDecimal(count)
      throw v.error(count > ConfigLimits.maxPatternSteps ? .capacity : .range, at: node, message)
    }
    for (index, element) in v.doc.elements(node).enumerated() {
      let inner = v.push(index: index)
      result.append(.milliseconds(try v.readInteger(element, 1...3_600_000, unit: "milliseconds")))
      v.pop(inner)
    }
    return result
  }

  var needs: TaskNeeds { TaskNeeds(timer: true) }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    // The validator allows at most `PatternSteps.count` steps, all positive: every one is kept.
    var steps = PatternSteps(repeating: .zero)
    for k in 0..<pattern.count { steps[k] = pattern[k] }
    guard let blink = BlinkPattern(steps, count: pattern.count, start: task.start) else {
      bug("HeartbeatConfig.build: the validator let through a pattern the heartbeat cannot hold")
    }
    return .heartbeat(Heartbeat(index: task.index, line: line, pattern: blink))
  }
}
