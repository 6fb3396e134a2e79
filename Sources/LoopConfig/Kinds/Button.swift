// The button kind: a debounced push button reporting press, release and long-press events.
// {"name": "button", "kind": "button", "line": "button", "debounce_ms": 20, "long_press_ms": 1000}

import LoopCore
import LoopGPIO
import LoopTasks

/// A debounced push button: press, release and long-press events.
public struct ButtonConfig: Equatable, Sendable {
  /// The input line.
  public var line: Int
  /// How long the level must hold before a change counts.
  public var debounce: Duration
  /// How long a press lasts before a long-press event; nil for no long-press events.
  public var longPress: Duration?
}

extension ButtonConfig: TaskKindDescription {
  static var name: StaticString { "button" }
  static var what: StaticString { "a button task" }
  static var keys: StaticString { "line debounce_ms long_press_ms" }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let element = task.node
    let line = try v.lineRef(task, "line", LineNeed(direction: .input, edges: .both))
    let debounce = try v.milliseconds(element, "debounce_ms", 0...1000, default: 20)
    let longPress = try v.milliseconds(element, "long_press_ms", 0...600_000, default: 1000)
    if longPress != .zero && longPress <= debounce, v.doc.member(element, "long_press_ms") != nil {
      throw v.mismatch(
        .range, atKey: "long_press_ms", of: element,
        expected: bytes(
          "0 (no long-press events) or more than debounce_ms (", debounce.nanoseconds / 1_000_000, ")"))
    }
    return ButtonConfig(line: line, debounce: debounce, longPress: longPress == .zero ? nil : longPress)
  }

  var needs: TaskNeeds { TaskNeeds(timer: true) }

  /// The button's window is applied to its line where the edges are read.
  func debounce(ofLine line: Int) -> Duration? { line == self.line ? debounce : nil }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    .button(Button(index: task.index, line: line, longPress: longPress))
  }

  /// Press, release and (when configured) long press as device triggers.
  func discover(_ d: inout Discovery, _ name: [UInt8]) {
    d.trigger(name, "press", type: "button_short_press")
    d.trigger(name, "release", type: "button_short_release")
    if case .some = longPress { d.trigger(name, "long_press", type: "button_long_press") }
  }
}
