// The board.json schema, top level: the document's keys, the order its parts are read in, and
// the totals checked once everything is read. Each part has its own file: ValidateGPIO.swift
// (`gpio`), ValidateLines.swift (`lines`), ValidateTasks.swift (`tasks`), ValidateOutput.swift
// (`output`), ValidateSim.swift (`sim`), ValidateMQTT.swift (`mqtt`). Boards/README.md is the user's reference to the same
// schema; keep the two in step.

import LoopCore
import LoopGPIO

extension Validator {
  static var topKeys: StaticString { "board gpio lines tasks output sim mqtt" }

  /// Validates the whole document into a `BoardConfig`.
  mutating func validateBoard() throws(ConfigError) -> BoardConfig {
    let root = 0
    guard kind(root) == .object else {
      throw mismatch(
        .type, at: root,
        expected: "an object at the top level ({\"board\": ..., \"gpio\": ..., \"tasks\": [...]})"
      )
    }
    try checkObject(
      root, allowed: Validator.topKeys, what: "the top level",
      example: "{\"board\": ..., \"gpio\": ..., \"tasks\": [...]}")

    let board: Label = try text(root, "board", allowEmpty: false, default: nil)
    let (simulated, chip, consumer) = try gpio(root)
    try readLines(root, simulated: simulated, chip: chip)
    try readTasks(root)
    let output = try readOutput(root)
    var stimuli = FixedList<64, SimStimulus>()
    var simFiles = FixedList<8, SimFile>()
    try readSim(root, simulated: simulated, stimuli: &stimuli, files: &simFiles)
    let mqtt = try readMQTT(root)

    var lineUsers = FixedList<32, Int>()
    for i in scope.lines.indices { lineUsers.append(scope.lineTasks[i]) }
    // The tasks moved out of the scope, not copied (a copy retained every task's heap lists, in
    // a copy loop used nowhere else).
    var tasks = FixedList<32, TaskConfig>()
    swap(&tasks, &scope.tasks)
    let config = BoardConfig(
      board: board, simulated: simulated, chip: chip, consumer: consumer, lines: scope.lines,
      tasks: consume tasks,
      output: output,
      stimuli: stimuli, simFiles: simFiles, mqtt: mqtt, lineUsers: lineUsers)
    try checkTotals(config, root: root)
    return config
  }

  // MARK: totals

  @inline(never)
  mutating func checkTotals(_ config: BoardConfig, root: Int) throws(ConfigError) {
    let plan = CapacityPlan(config)
    for index in 0..<CapacityPlan.rowCount where plan.row(index).used > plan.row(index).limit {
      let row = plan.row(index)
      _ = push("tasks")  // Not popped: the error is thrown (see `pop`).
      var message: [UInt8] = []
      message.append("the config needs ")
      message.appendDecimal(row.used)
      message.append(" ")
      message.append(row.name)
      message.append(", more than the ")
      message.appendDecimal(row.limit)
      message.append(" sensorloop is built for (")
      message.append(row.rule)
      message.append(")")
      throw error(.capacity, at: doc.member(root, "tasks") ?? root, message)
    }
  }

  mutating func capacityError(at node: Int, most: Int, of what: StaticString, found: Int) -> ConfigError {
    var message: [UInt8] = []
    message.append("expected at most ")
    message.appendDecimal(most)
    message.append(" ")
    message.append(what)
    message.append(" (the fixed capacity), found ")
    message.appendDecimal(found)
    return error(.capacity, at: node, message)
  }
}
