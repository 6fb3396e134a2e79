// The checks rules share (threshold, curve): a source task whose readings they watch, and the
// pwm task whose duty they set. Each rule's own file calls these from its `check`. Also the
// errors every kind's `read` makes at one of its keys, and its messages with one number: out of
// line once, not inlined into `TaskKind.read` at each kind.

import LoopCore

extension Validator {
  /// Checks rule `task`'s `source` (possibly further down): it makes readings, and at most
  /// `ConfigLimits.maxWatchersPerSource` rules watch it. `rule` names the rule ("a threshold").
  mutating func checkReadingSource(_ task: TaskObject, _ source: Int, rule: StaticString) throws(ConfigError)
  {
    var watchers = 0
    for i in 0...task.index where readingSource(ofTask: i) == source { watchers += 1 }
    let node = doc.member(task.node, "source")!
    let mark = push("source")
    defer { pop(mark) }
    if watchers > ConfigLimits.maxWatchersPerSource {
      var message: [UInt8] = []
      message.append("task ")
      message.appendQuoted(taskName(source))
      message.append(" already has ")
      message.appendDecimal(ConfigLimits.maxWatchersPerSource)
      message.append(" thresholds or curves watching it, the most one source can notify")
      throw error(.capacity, at: node, message)
    }
    if !taskEntry(source).makesReadings {
      var message: [UInt8] = []
      message.append("task ")
      message.appendQuoted(taskName(source))
      // The kinds that make readings, as registered: a new one is named here without an edit.
      message.append(" makes no readings; ")
      message.append(rule)
      message.append(" watches a ")
      appendKinds(where: { $0.makesReadings }, into: &message)
      message.append(" task")
      throw error(.conflict, at: node, message)
    }
  }

  /// Checks the pwm task rule `task` names at `pwm` (possibly further down): a kind that takes
  /// a duty, not driven by an earlier rule.
  mutating func checkDutyTarget(_ task: TaskObject, _ target: Int) throws(ConfigError) {
    let node = doc.member(task.node, "pwm")!
    let mark = push("pwm")
    defer { pop(mark) }
    if !taskEntry(target).takesDuty {
      var message: [UInt8] = []
      message.append("task ")
      message.appendQuoted(taskName(target))
      message.append(" is ")
      message.append(taskEntry(target).what)
      message.append("; a duty is set on a ")
      appendKinds(where: { $0.takesDuty }, into: &message)
      message.append(" task")
      throw error(.conflict, at: node, message)
    }
    for other in 0..<task.index where dutyTarget(ofTask: other) == target {
      var message: [UInt8] = []
      message.append("task ")
      message.appendQuoted(taskName(target))
      message.append(" already has its duty set by task ")
      message.appendQuoted(taskName(other))
      message.append(" (tasks[")
      message.appendDecimal(other)
      message.append("]); a pwm task follows one rule")
      throw error(.conflict, at: node, message)
    }
  }

  /// Appends the registered kinds that pass `test`: "a, b or c".
  mutating func appendKinds(where test: (TaskKindEntry) -> Bool, into message: inout [UInt8]) {
    var count = 0
    for index in 0..<TaskKind.kindCount where test(TaskKindEntry(index: index)) { count += 1 }
    var position = 0
    for index in 0..<TaskKind.kindCount {
      let entry = TaskKindEntry(index: index)
      guard test(entry) else { continue }
      if position > 0 { message.append(position == count - 1 ? " or " : ", ") }
      message.append(entry.name)
      position += 1
    }
  }
}

extension Validator {
  /// Task `index`'s name (of the tasks read so far). Out of line, as are the accessors below:
  /// inlined, each read copied the task's whole `TaskConfig` out of the list and destroyed it.
  @inline(never)
  mutating func taskName(_ index: Int) -> Name { scope.tasks.element(index).name }

  /// Where task `index`'s kind is in `TaskKind.registry` (`HeartbeatConfig.kindIndex` ...).
  @inline(never)
  mutating func taskKindIndex(_ index: Int) -> Int { scope.tasks.element(index).kindIndex }

  /// Task `index`'s kind.
  mutating func taskEntry(_ index: Int) -> TaskKindEntry { TaskKindEntry(index: taskKindIndex(index)) }

  /// The task whose readings task `index` watches, if it is a rule that does.
  @inline(never)
  mutating func readingSource(ofTask index: Int) -> Int? {
    switch scope.tasks.element(index).kind {
    case .threshold(let threshold): threshold.source
    case .curve(let curve): curve.source
    default: nil
    }
  }

  /// The pwm task whose duty task `index` sets, if it is a rule that sets one.
  @inline(never)
  mutating func dutyTarget(ofTask index: Int) -> Int? {
    switch scope.tasks.element(index).kind {
    case .threshold(let threshold): threshold.pwm
    case .curve(let curve): curve.pwm
    default: nil
    }
  }

  /// An error at member `key` of `object` (at `object` when `key` is absent), the path at `key`.
  @inline(never)
  mutating func error(_ kind: ConfigError.Kind, atKey key: StaticString, of object: Int, _ message: [UInt8])
    -> ConfigError
  {
    let node = doc.member(object, key) ?? object
    let mark = push(key)
    defer { pop(mark) }
    return error(kind, at: node, message)
  }

  /// An error with a fixed message at member `key` of `object`, the path at `key`.
  @inline(never)
  mutating func error(
    _ kind: ConfigError.Kind, atKey key: StaticString, of object: Int, _ message: StaticString
  )
    -> ConfigError
  {
    error(kind, atKey: key, of: object, bytes(message))
  }

  /// `expected <expected>, found <the value>` at member `key` of `object`, the path at `key`.
  @inline(never)
  mutating func mismatch(
    _ kind: ConfigError.Kind, atKey key: StaticString, of object: Int, expected: [UInt8]
  ) -> ConfigError {
    let node = doc.member(object, key) ?? object
    let mark = push(key)
    defer { pop(mark) }
    return mismatch(kind, at: node, expected: expected)
  }
}

/// The bytes of `head`, `value` in decimal, then those of `tail`: a message with one number.
@inline(never)
func bytes(_ head: StaticString, _ value: Int64, _ tail: StaticString) -> [UInt8] {
  var text: [UInt8] = []
  text.append(head)
  text.appendDecimal(value)
  text.append(tail)
  return text
}

/// `bytes(head, value, tail)` with an `Int`.
func bytes(_ head: StaticString, _ value: Int, _ tail: StaticString) -> [UInt8] {
  bytes(head, Int64(value), tail)
}
