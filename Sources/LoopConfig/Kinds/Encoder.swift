// The encoder kind: a quadrature rotary encoder, lines A and B decoded into a position.
// {"name": "knob", "kind": "encoder", "line_a": "a", "line_b": "b", "steps_per_detent": 4}

import LoopCore
import LoopGPIO
import LoopTasks

/// A quadrature rotary encoder: lines A and B decoded into a position.
public struct EncoderConfig: Equatable, Sendable {
  /// Line A (input).
  public var lineA: Int
  /// Line B (input).
  public var lineB: Int
  /// Quadrature edges per detent (1, 2 or 4); the position counts detents.
  public var stepsPerDetent: Int
}

extension EncoderConfig: TaskKindDescription {
  static var name: StaticString { "encoder" }
  static var what: StaticString { "an encoder task" }
  static var keys: StaticString { "line_a line_b steps_per_detent" }
  static var makesReadings: Bool { true }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let lineA = try v.lineRef(task, "line_a", LineNeed(direction: .input, edges: .both))
    let lineB = try v.lineRef(task, "line_b", LineNeed(direction: .input, edges: .both))
    var steps = 4
    if let node = v.doc.member(task.node, "steps_per_detent") {
      let mark = v.push("steps_per_detent")
      steps = Int(try v.readInteger(node, 1...4))
      if steps == 3 { throw v.mismatch(.range, at: node, expected: "1, 2 or 4") }
      v.pop(mark)
    }
    return EncoderConfig(lineA: lineA, lineB: lineB, stepsPerDetent: steps)
  }

  /// It waits for edges only.
  var needs: TaskNeeds { TaskNeeds(timer: false) }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    let a = world.initialLevel(ofInput: lineA) ?? false
    let b = world.initialLevel(ofInput: lineB) ?? false
    return .encoder(
      Encoder(index: task.index, lineA: lineA, lineB: lineB, stepsPerDetent: stepsPerDetent, a: a, b: b))
  }

  /// Its position as a `sensor`.
  func discover(_ d: inout Discovery, _ name: [UInt8]) {
    let f = d.text(
      "\"state_topic\":\"\u{1}/\u{5}/step\",\"value_template\":\"{{ value_json.position }}\",\"state_class\":\"measurement\"",
      name)
    d.add("sensor", name, name: name, f)
  }
}
