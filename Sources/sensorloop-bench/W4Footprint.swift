// W4, the parent side: builds the stand-alone programs if needed (footprint.sh), runs each
// implementation of the idle workload as a child process, and reports its peak RSS, CPU %,
// stripped binary size and allocations after startup.
//   c                    .build-footprint/w4-c (plain C, libc only)
//   sensorloop           this executable (`w4-child`): the host build, with the Swift runtime
//   sensorloop-embedded  .build-footprint/w4-embedded (Embedded Swift: what runs on a board)

import CBaseline
import Glibc

/// The package root, found from this source file's path (the benchmark runs from a checkout).
let packageRoot: String = {
  var path = "\(#filePath)"
  for _ in 0..<3 {
    while let last = path.last, last != "/" { path.removeLast() }
    if !path.isEmpty { path.removeLast() }
  }
  return path
}()

/// This executable's path.
func executablePath() -> String {
  var buffer = [CChar](repeating: 0, count: 4096)
  let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
  precondition(n > 0, "readlink /proc/self/exe failed")
  return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Whether `path` names an existing file.
func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

/// Runs `argv` as a child; nil when it cannot start.
func runChild(_ argv: [String]) -> (output: String, result: cb_child_result)? {
  var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
  cArgs.append(nil)
  defer { for p in cArgs { free(p) } }
  var output = [CChar](repeating: 0, count: 4096)
  var result = cb_child_result()
  let status = cb_run_child(&cArgs, &output, output.count, &result)
  if status != 0 { return nil }
  let text = String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  return (text, result)
}

/// The integer after `key=` in `text`.
func field(_ key: String, in text: String) -> Int64? {
  for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
    if word.hasPrefix(key + "=") { return Int64(word.dropFirst(key.count + 1)) }
  }
  return nil
}

/// Stripped size of `path` in KiB, nil when missing.
func strippedKiB(_ path: String, strip: String = "strip") -> Double? {
  let bytes = cb_stripped_size(path, strip)
  return bytes < 0 ? nil : Double(bytes) / 1024
}

/// Builds the stand-alone W4 programs when their sources changed; the compilers' output goes to
/// .build-footprint/build.log.
func buildFootprintPrograms() {
  let script = packageRoot + "/Sources/sensorloop-bench/footprint.sh"
  guard exists(script) else { return }
  let log = packageRoot + "/.build-footprint/build.log"
  _ = mkdir(packageRoot + "/.build-footprint", 0o755)
  let run = runChild(["/usr/bin/env", "bash", "-c", "exec bash \"$0\" >\"$1\" 2>&1", script, log])
  if let run, run.result.exit_status != 0 {
    print("# w4: footprint.sh failed (exit \(run.result.exit_status)); see \(log)")
  }
}

/// The W4 lines: each implementation's idle run as a child process.
func runW4() -> [ResultLine] {
  buildFootprintPrograms()
  let out = packageRoot + "/.build-footprint"
  let me = executablePath()
  var buildDir = me
  while let last = buildDir.last, last != "/" { buildDir.removeLast() }

  var lines: [ResultLine] = []
  let programs: [(impl: String, argv: [String], binary: String)] = [
    ("c", [out + "/w4-c"], out + "/w4-c"),
    ("sensorloop", [me, "w4-child"], buildDir + "sensorloop"),
    ("sensorloop-embedded", [out + "/w4-embedded"], out + "/w4-embedded"),
  ]
  for program in programs {
    guard exists(program.argv[0]) else {
      print(
        "# w4: \(program.argv[0]) is missing; skipped (run \(packageRoot)/Sources/sensorloop-bench/footprint.sh)"
      )
      continue
    }
    guard let run = runChild(program.argv), run.result.exit_status == 0,
      let expirations = field("expirations", in: run.output),
      let allocs = field("allocs", in: run.output),
      let rss = field("rss_kib", in: run.output)
    else {
      print("# w4: \(program.impl) failed")
      continue
    }
    var line = ResultLine(workload: "w4", impl: program.impl)
    line.add("rss_kib", count: rss)
    line.add("cpu_pct", 100 * Double(run.result.cpu_ns) / Double(run.result.wall_ns), decimals: 3)
    if let kib = strippedKiB(program.binary) { line.add("binary_kib", kib) }
    if program.impl == "sensorloop-embedded",
      let kib = strippedKiB(
        packageRoot + "/.build-aarch64/release/sensorloop", strip: "aarch64-linux-gnu-strip")
    {
      line.add("aarch64_binary_kib", kib)
    }
    line.add("expirations", count: expirations)
    line.add("allocs", count: allocs)
    lines.append(line)
  }
  return lines
}
