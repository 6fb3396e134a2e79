// libFuzzer target: the board.json reader and validator over arbitrary bytes.
//
// Every input must either parse into a `BoardConfig` or throw a `ConfigError` whose rendered
// message is one non-empty line naming the file; nothing may trap, read out of bounds or hang
// (libFuzzer's -timeout catches the last). Built by Tests/Fuzz/build, run by Tests/Fuzz/run.

import LoopConfig

/// What messages call the file: fixed, so a rendered message's prefix can be checked.
let fileName: [UInt8] = Array("fuzz.json".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  // SAFETY: libFuzzer passes `size` readable bytes at `data` for the duration of the call.
  let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
  do throws(ConfigError) {
    let config = try parseBoardConfig(bytes, fileName: fileName)
    // A config that validates is within the fixed capacities it was checked against, and
    // parsing is a function of the bytes (a second parse gives the same value).
    precondition(config.tasks.count <= ConfigLimits.maxTasks, "too many tasks")
    precondition(config.lines.count <= ConfigLimits.maxLines, "too many lines")
    precondition((try? parseBoardConfig(bytes, fileName: fileName)) == config, "second parse differs")
  } catch {
    var line: [UInt8] = []
    error.render(into: &line)
    precondition(line.starts(with: fileName), "message does not start with the file name")
    precondition(!line.contains(UInt8(ascii: "\n")), "message is more than one line")
    precondition(!error.message.isEmpty, "message is empty")
    precondition(error.line >= 0 && error.column >= 0, "negative position")
    precondition(error.line == 0 || error.column >= 1, "line without a column")
    precondition(error.rendered == line)
  }
  return 0
}
