// board.json's `sim`: the simulated board's scripted stimuli and files (mock GPIO only).

import LoopCore

extension Validator {
  static var stimulusKinds: StaticString { "edge pulses bounce press quadrature" }

  @inline(never)
  mutating func readSim(
    _ root: Int, simulated: Bool, stimuli: inout FixedList<64, SimStimulus>,
    files: inout FixedList<8, SimFile>
  ) throws(ConfigError) {
    guard let node = doc.member(root, "sim") else { return }
    let mark = push("sim")
    guard simulated else {
      throw error(
        .conflict, at: node,
        "scripted stimuli drive the simulated board only; set \"gpio\": \"mock\" or remove \"sim\"")
    }
    try checkObject(node, allowed: "stimuli files", what: "sim", example: "{\"stimuli\": [...]}")
    if case let (list, inner)? = enter(node, "stimuli") {
      guard kind(list) == .array else {
        throw mismatch(.type, at: list, expected: "an array of stimuli")
      }
      let count = Int(doc.nodes[list].a)
      if count > ConfigLimits.maxStimuli {
        throw capacityError(at: list, most: ConfigLimits.maxStimuli, of: "stimuli", found: count)
      }
      var element = doc.firstChild(list)
      for index in 0..<count {
        let item = push(index: index)
        stimuli.append(try stimulus(element))
        pop(item)
        element = doc.next(element)
      }
      pop(inner)
    }
    if case let (list, inner)? = enter(node, "files") {
      guard kind(list) == .array else {
        throw mismatch(.type, at: list, expected: "an array of scripted files")
      }
      let count = Int(doc.nodes[list].a)
      if count > ConfigLimits.maxSimFiles {
        throw capacityError(at: list, most: ConfigLimits.maxSimFiles, of: "files", found: count)
      }
      var element = doc.firstChild(list)
      for index in 0..<count {
        let item = push(index: index)
        files.append(try simFile(element))
        pop(item)
        element = doc.next(element)
      }
      pop(inner)
    }
    pop(mark)
  }

  mutating func stimulus(_ object: Int) throws(ConfigError)
    -> SimStimulus
  {
    guard kind(object) == .object else {
      throw mismatch(
        .type, at: object, expected: "a stimulus object ({\"kind\": \"press\", ...})")
    }
    let kindIndex = try choice(object, "kind", Validator.stimulusKinds, default: nil)
    let keys: StaticString
    let what: StaticString
    switch kindIndex {
    case 0:
      keys = "kind line at_ms value"
      what = "an edge stimulus"
    case 1:
      keys = "kind line at_ms frequency_hz duty_percent count duration_ms"
      what = "a pulses stimulus"
    case 2:
      keys = "kind line at_ms transitions within_us value"
      what = "a bounce stimulus"
    case 3:
      keys = "kind line at_ms hold_ms count every_ms bounce bounce_us"
      what = "a press stimulus"
    default:
      keys = "kind line_a line_b at_ms steps direction rate_hz"
      what = "a quadrature stimulus"
    }
    try checkObject(object, allowed: keys, what: what, example: "{\"kind\": \"press\", ...}")
    let at = try milliseconds(object, "at_ms", 0...86_400_000, default: 0)
    // Every kind but quadrature drives one "line", read next.
    var line = 0
    if kindIndex < 4 { line = try simLine(object, "line") }
    switch kindIndex {
    case 0:
      guard case let (node, mark)? = enter(object, "value") else {
        throw missing(object, "value", "0 or 1")
      }
      let value = try readLevel(node)
      pop(mark)
      return .edge(line: line, at: at, value: value)
    case 1:
      let frequency = try decimal(
        object, "frequency_hz", from: DecimalNumber(significand: 1, exponent: -3),
        to: DecimalNumber(significand: 50_000), default: nil)
      let duty = try integer(object, "duty_percent", 1...99, default: 50, unit: "percent")
      let period = Duration(nanoseconds: Int64((1e9 / frequency.double).rounded()))
      var count: Int64? = nil
      let countNode = doc.member(object, "count")
      let durationNode = doc.member(object, "duration_ms")
      if case .some = countNode, let durationNode {
        _ = push("duration_ms")  // Not popped: the error is thrown (see `pop`).
        throw error(.conflict, at: durationNode, bytes("give \"count\" or \"duration_ms\", not both"))
      }
      if case .some = countNode {
        count = try integer(object, "count", 1...1_000_000_000, default: nil)
      } else if case .some = durationNode {
        let duration = try milliseconds(object, "duration_ms", 1...86_400_000, default: nil)
        count = max(1, duration.nanoseconds / period.nanoseconds)
      }
      return .pulses(
        PulseTrain(
          line: line, at: at, frequencyHz: frequency, period: period,
          high: Duration(nanoseconds: period.nanoseconds * duty / 100), count: count))
    case 2:
      let transitions = Int(try integer(object, "transitions", 1...1000, default: nil))
      let within = Duration.microseconds(
        try integer(object, "within_us", 1...1_000_000, default: nil, unit: "microseconds"))
      guard case let (node, mark)? = enter(object, "value") else {
        throw missing(object, "value", "0 or 1, the level after the bounce")
      }
      let value = try readLevel(node)
      pop(mark)
      return .bounce(line: line, at: at, transitions: transitions, within: within, value: value)
    case 3:
      let hold = try milliseconds(object, "hold_ms", 1...600_000, default: 100)
      let count = Int(try integer(object, "count", 1...100_000, default: 1))
      // Required for more than one press (and longer than hold_ms), optional for one.
      var every = hold * 2
      if count > 1 || doc.member(object, "every_ms") != nil {
        every = try milliseconds(object, "every_ms", 2...3_600_000, default: nil)
        if count > 1 && every <= hold {
          _ = push("every_ms")  // Not popped: the error is thrown.
          throw error(
            .range, at: doc.member(object, "every_ms")!,
            bytes("must be longer than hold_ms (a press must end before the next starts)"))
        }
      }
      return .press(
        Press(
          line: line, at: at, hold: hold, count: count, every: every,
          bounceTransitions: Int(try integer(object, "bounce", 0...100, default: 0)),
          bounceWithin: .microseconds(
            try integer(object, "bounce_us", 1...100_000, default: 1000, unit: "microseconds"))))
    default:
      let lineA = try simLine(object, "line_a")
      let lineB = try simLine(object, "line_b")
      if lineA == lineB {
        _ = push("line_b")  // Not popped: the error is thrown.
        throw error(
          .conflict, at: doc.member(object, "line_b")!, bytes("line_b must differ from line_a"))
      }
      let steps = Int(try integer(object, "steps", 1...1_000_000, default: nil))
      let clockwise = try choice(object, "direction", "cw ccw", default: 0) == 0
      let rate = try decimal(
        object, "rate_hz", from: DecimalNumber(significand: 1, exponent: -1),
        to: DecimalNumber(significand: 10_000),
        default: DecimalNumber(significand: 100))
      return .quadrature(
        Quadrature(
          lineA: lineA, lineB: lineB, at: at, steps: steps, clockwise: clockwise,
          interval: Duration(nanoseconds: Int64((1e9 / rate.double).rounded()))))
    }
  }

  /// A stimulus's line: it must exist and be an input.
  mutating func simLine(_ object: Int, _ key: StaticString) throws(ConfigError) -> Int {
    guard case let (node, mark)? = enter(object, key) else {
      throw missing(object, key, bytes("the name of an input line in \"lines\""))
    }
    let index = try resolveLine(node)
    if scope.lines.element(index).direction != .input {
      var message: [UInt8] = []
      message.append("line ")
      message.appendQuoted(scope.lines.element(index).id)
      message.append(" is an output; stimuli drive input lines")
      throw error(.conflict, at: node, message)
    }
    pop(mark)
    return index
  }

  mutating func simFile(_ object: Int) throws(ConfigError) -> SimFile {
    try checkObject(
      object, allowed: "path values at_ms every_ms repeat", what: "a scripted file",
      example: "{\"path\": \"/tmp/temp\", \"values\": [41000, 42000]}")
    let path = try path(object, "path", absolute: true)
    var values = FixedList<16, Int64>()
    guard case let (list, mark)? = enter(object, "values") else {
      throw missing(object, "values", "an array of 1 to 16 integers")
    }
    guard kind(list) == .array, doc.nodes[list].a >= 1,
      Int(doc.nodes[list].a) <= ConfigLimits.maxSimFileValues
    else {
      throw mismatch(
        kind(list) != .array ? .type : (doc.nodes[list].a == 0 ? .range : .capacity), at: list,
        expected: bytes("an array of 1 to 16 integers"))
    }
    var element = doc.firstChild(list)
    for index in 0..<Int(doc.nodes[list].a) {
      let inner = push(index: index)
      values.append(try readInteger(element, -1_000_000_000_000...1_000_000_000_000))
      pop(inner)
      element = doc.next(element)
    }
    pop(mark)
    return SimFile(
      path: path, at: try milliseconds(object, "at_ms", 0...86_400_000, default: 0),
      every: try milliseconds(object, "every_ms", 1...3_600_000, default: 1000), values: values,
      repeats: try boolean(object, "repeat", default: true))
  }
}
