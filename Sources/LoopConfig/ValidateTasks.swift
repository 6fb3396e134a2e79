// board.json's `tasks`: the task list, each task's name and kind, and the references tasks
// make to lines (a line serves one task, in the direction and with the edges the task needs)
// and to other tasks. What each kind reads is in its own file, Kinds/*.swift.

import LoopCore
import LoopGPIO

/// What a task or stimulus requires of a line it names.
struct LineNeed {
  var direction: Direction
  /// The edges an input must report (nil for outputs).
  var edges: EdgeDetection?
}

/// What the tasks being read may refer to: the lines (their edges are settled as tasks claim
/// them), which task uses each line, every task's name as written, the tasks read so far.
struct TaskScope {
  var lines = FixedList<32, LineConfig>()
  /// By line index, the line's object node (for positions and its keys) ...
  var lineNodes: [Int] = []
  /// ... and the task using the line, -1 for none.
  var lineTasks: [Int] = []
  var names: [[UInt8]] = []
  var tasks = FixedList<32, TaskConfig>()
}

extension Validator {
  /// Reads `tasks` into `scope.tasks`: each kind's file reads its own keys (`TaskKind.registry`).
  @inline(never)
  mutating func readTasks(_ root: Int) throws(ConfigError) {
    guard let node = doc.member(root, "tasks") else {
      throw missing(root, "tasks", "an array of tasks")
    }
    let mark = push("tasks")
    guard kind(node) == .array else {
      throw mismatch(
        .type, at: node,
        expected: "an array of tasks ([{\"name\": \"blink\", \"kind\": \"heartbeat\", ...}])")
    }
    let count = Int(doc.nodes[node].a)
    if count == 0 {
      throw error(.range, at: node, "expected at least one task, found an empty array")
    }
    if count > ConfigLimits.maxTasks {
      throw capacityError(at: node, most: ConfigLimits.maxTasks, of: "tasks", found: count)
    }
    // First pass: the names as written, so tasks can refer to tasks after them.
    // The elements are walked by node (three passes, no array of them).
    scope.names = []
    var element = doc.firstChild(node)
    for _ in 0..<count {
      var name: [UInt8] = []
      if kind(element) == .object, let nameNode = doc.member(element, "name"), kind(nameNode) == .string {
        name.append(contentsOf: doc.string(nameNode))
      }
      scope.names.append(name)
      element = doc.next(element)
    }
    element = doc.firstChild(node)
    for index in 0..<count {
      let inner = push(index: index)
      guard kind(element) == .object else {
        throw mismatch(
          .type, at: element, expected: "a task object ({\"name\": ..., \"kind\": ..., ...})")
      }
      let kindIndex = try choice(element, "kind", TaskKind.names, default: nil)
      let entry = TaskKindEntry(index: kindIndex)
      try checkObject(
        element, allowed: "name kind", then: entry.keys, what: entry.what,
        example: "{\"name\": ..., \"kind\": ..., ...}")
      guard let nameNode = doc.member(element, "name") else {
        throw missing(element, "name", nameExpectation())
      }
      let nameMark = push("name")
      let name = try readName(nameNode)
      for other in scope.tasks.indices where scope.tasks.element(other).name == name {
        var message: [UInt8] = []
        message.append("the task name ")
        message.appendQuoted(name)
        message.append(" is already used by tasks[")
        message.appendDecimal(other)
        message.append("]")
        throw error(.conflict, at: nameNode, message)
      }
      pop(nameMark)
      let taskKind = try entry.read(&self, TaskObject(node: element, index: index))
      scope.tasks.append(TaskConfig(name: name, kind: taskKind, kindIndex: kindIndex))
      pop(inner)
      element = doc.next(element)
    }
    // Checks that need every task (a threshold's source further down).
    element = doc.firstChild(node)
    for index in 0..<count {
      let inner = push(index: index)
      let task = scope.tasks.element(index)
      try task.kind.check(&self, TaskObject(node: element, index: index))
      pop(inner)
      element = doc.next(element)
    }
    // Inputs whose edges no task asked for report both, so nothing is missed.
    for index in scope.lines.indices
    where scope.lines.element(index).direction == .input && !hasExplicitEdge(index)
      && scope.lineTasks[index] < 0
    {
      scope.lines[index].edge = .both
    }
    pop(mark)
  }

  /// The index of the task named at `key` of `task` (not itself).
  mutating func taskRef(_ task: TaskObject, _ key: StaticString) throws(ConfigError) -> Int {
    try taskRef(task.node, key, names: scope.names, selfIndex: task.index)
  }

  /// Resolves `key` of `task` to a line, checking it suits the task and is not used twice.
  mutating func lineRef(_ task: TaskObject, _ key: StaticString, _ need: LineNeed) throws(ConfigError) -> Int
  {
    let object = task.node
    guard case let (node, mark)? = enter(object, key) else {
      throw missing(
        object, key,
        need.direction == .input
          ? bytes("the name of an input line in \"lines\"")
          : bytes("the name of an output line in \"lines\""))
    }
    let index = try resolveLine(node)
    let line = scope.lines.element(index)
    if line.direction != need.direction {
      var message: [UInt8] = []
      message.append("line ")
      message.appendQuoted(line.id)
      message.append(line.direction == .input ? " is an input; " : " is an output; ")
      message.append("this task needs an ")
      message.append(need.direction == .input ? "input" : "output")
      message.append(" line")
      throw error(.conflict, at: node, message)
    }
    let user = scope.lineTasks[index]
    if user >= 0 {
      var message: [UInt8] = []
      message.append("line ")
      message.appendQuoted(line.id)
      if user == task.index {
        message.append(" is already used by this task")
      } else {
        message.append(" is already used by task ")
        message.appendQuoted(scope.names[user])
        message.append(" (tasks[")
        message.appendDecimal(user)
        message.append("]); a line can serve one task")
      }
      throw error(.conflict, at: node, message)
    }
    if let edges = need.edges {
      if hasExplicitEdge(index) {
        let has = line.edge
        let covers = has == .both || has == edges
        if !covers {
          var message: [UInt8] = []
          message.append("line ")
          message.appendQuoted(line.id)
          message.append(" has \"edge\": ")
          appendEdge(has, into: &message)
          message.append("; this task needs ")
          appendEdge(edges, into: &message)
          message.append(" edges")
          throw error(.conflict, at: node, message)
        }
      } else {
        scope.lines[index].edge = edges
      }
    }
    scope.lineTasks[index] = task.index
    pop(mark)
    return index
  }

  /// Whether line `line`'s object has `edge` written.
  mutating func hasExplicitEdge(_ line: Int) -> Bool { doc.member(scope.lineNodes[line], "edge") != nil }

  mutating func appendEdge(_ edge: EdgeDetection?, into out: inout [UInt8]) {
    switch edge {
    case .none: out.append("\"none\"")
    case .rising: out.append("\"rising\"")
    case .falling: out.append("\"falling\"")
    case .both: out.append("\"both\"")
    }
  }

  /// The index of the task named at `key` of `object`.
  mutating func taskRef(_ object: Int, _ key: StaticString, names: [[UInt8]], selfIndex: Int)
    throws(ConfigError) -> Int
  {
    guard case let (node, mark)? = enter(object, key) else {
      throw missing(object, key, bytes("the name of a task"))
    }
    let index = try resolveTask(node, names: names, selfIndex: selfIndex)
    pop(mark)
    return index
  }

  mutating func resolveTask(_ node: Int, names: [[UInt8]], selfIndex: Int) throws(ConfigError) -> Int {
    guard kind(node) == .string else {
      throw mismatch(.type, at: node, expected: "the name of a task")
    }
    let wanted = doc.string(node)
    for (index, name) in names.enumerated() where !name.isEmpty && name.elementsEqual(wanted) {
      if index == selfIndex {
        throw error(.conflict, at: node, "a task cannot refer to itself")
      }
      return index
    }
    throw unknownReference(node, what: "task", list: "\"tasks\"", names: names)
  }

  mutating func unknownReference(_ node: Int, what: StaticString, list: StaticString, names: [[UInt8]])
    -> ConfigError
  {
    var message: [UInt8] = []
    message.append("no ")
    message.append(what)
    message.append(" named ")
    message.appendQuoted(doc.string(node))
    if let close = suggestionIndex(for: doc.string(node), among: names) {
      message.append("; did you mean ")
      message.appendQuoted(names[close])
      message.append("?")
    } else if names.allSatisfy({ $0.isEmpty }) {
      message.append("; ")
      message.append(list)
      message.append(" names none")
    } else {
      message.append("; ")
      message.append(list)
      message.append(" has ")
      var listed = 0
      for name in names where !name.isEmpty {
        if listed == 8 {
          message.append(", ...")
          break
        }
        if listed > 0 { message.append(", ") }
        message.appendQuoted(name)
        listed += 1
      }
    }
    return error(.reference, at: node, message)
  }
}

/// The widest range scale and offset accept.
let maxPositive = DecimalNumber(significand: 1, exponent: 9)
let maxNegative = DecimalNumber(significand: -1, exponent: 9)
