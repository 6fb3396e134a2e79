// The release `sensorloop` answering signals as a service manager and a user send them: three
// SIGUSR1 give three summaries; a stop at any moment of startup (even one pending before the
// program runs) ends it with exit 0 and never READY=1; SIGHUP reloads the config (a changed one
// is applied without losing a record, a broken one or one that cannot start is reported and the
// running one stays, an output file moved away is opened again, twenty in a row are survived,
// and the steady state still allocates nothing); and stdout's O_NONBLOCK flag, which belongs to
// the shell's open file, is put back on every exit path.

import Foundation
import Testing

/// Boards/sim.json, by absolute path (children run in the test's working directory).
private let simBoard = packageRoot.appendingPathComponent("Boards/sim.json").path

/// A folder for one test's files, removed by the caller.
private func scratch(_ name: String) throws -> URL {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
    "sensorloop-sig-\(name)-\(getpid())")
  try? FileManager.default.removeItem(at: folder)
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  return folder
}

/// A mock board with one ticker called `name` every `period` ms, writing to `output`.
private func tickerConfig(_ name: String, period: Int = 20, output: String = "stdout", extra: String = "")
  -> String
{
  """
  {
    "board": "signal test board",
    "gpio": "mock",
    "tasks": [
      { "name": "\(name)", "kind": "ticker", "period_ms": \(period) }\(extra)
    ],
    "output": { "to": "\(output)" }
  }
  """
}

/// A child started with `posix_spawn`: its stdout and stderr go to files (or given fds), and
/// it may start with signals blocked (so one sent at once is pending before `main` runs).
private struct Child {
  let pid: pid_t
  let stdoutPath: String
  let stderrPath: String

  static func spawn(
    _ binary: URL, _ arguments: [String], in folder: URL, environment: [String: String] = [:],
    blocked: [Int32] = [], stdoutFD: Int32? = nil, stderrFD: Int32? = nil
  ) throws -> Child {
    let out = folder.appendingPathComponent("stdout-\(UUID().uuidString)").path
    let err = folder.appendingPathComponent("stderr-\(UUID().uuidString)").path
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let stdoutFD {
      posix_spawn_file_actions_adddup2(&actions, stdoutFD, 1)
    } else {
      posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    }
    if let stderrFD {
      posix_spawn_file_actions_adddup2(&actions, stderrFD, 2)
    } else {
      posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var mask = sigset_t()
    sigemptyset(&mask)
    for signal in blocked { sigaddset(&mask, signal) }
    posix_spawnattr_setsigmask(&attributes, &mask)
    // The signals sensorloop handles start with their default action, whatever the test
    // process does with them.
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGPIPE] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
    let argv = ([binary.path] + arguments).map { strdup($0) } + [nil]
    let envp = env.map { strdup($0) } + [nil]
    defer {
      for p in argv { free(p) }
      for p in envp { free(p) }
    }
    var pid: pid_t = 0
    let failed = posix_spawn(&pid, binary.path, &actions, &attributes, argv, envp)
    try #require(failed == 0, "posix_spawn failed: \(failed)")
    return Child(pid: pid, stdoutPath: out, stderrPath: err)
  }

  func signal(_ number: Int32) { kill(pid, number) }

  /// Waits up to `timeout` for the exit; the exit status, or nil (then the child is killed)
  /// when it did not exit normally in time.
  func wait(timeout: TimeInterval) -> Int32? {
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    while true {
      let r = waitpid(pid, &status, WNOHANG)
      if r == pid { break }
      if Date() > deadline {
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        return nil
      }
      usleep(1000)
    }
    // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
    return status & 0x7F == 0 ? (status >> 8) & 0xFF : -(status & 0x7F)
  }

  /// Whether the child blocks `signal` now (/proc/PID/status, SigBlk).
  func blocks(_ signal: Int32) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") }),
      let mask = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16)
    else { return false }
    return mask & (1 << UInt64(signal - 1)) != 0
  }

  var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
  var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}

/// Every line of `text` as a JSON object; a line that is not one (a split record) fails the test.
private func records(_ text: String) -> [[String: Any]] {
  if text.isEmpty { return [] }
  return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0)
    .compactMap { line in
      let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      #expect(object != nil, "not a JSON object: \(line)")
      return object
    }
}

private func time(_ record: [String: Any]) -> Int64 { (record["t_ns"] as? NSNumber)?.int64Value ?? -1 }

@Suite(.serialized) struct SignalEndToEndTests {
  /// Finding 1: every SIGUSR1 prints a summary (main printed one, then nothing until the stop).
  @Test func everySIGUSR1PrintsASummary() throws {
    let folder = try scratch("usr1")
    defer { try? FileManager.default.removeItem(at: folder) }
    let child = try Child.spawn(try releaseSensorloop(), ["--config", simBoard], in: folder)
    Thread.sleep(forTimeInterval: 1)
    for _ in 0..<3 {
      child.signal(SIGUSR1)
      Thread.sleep(forTimeInterval: 0.5)
    }
    child.signal(SIGTERM)
    #expect(child.wait(timeout: 10) == 0)
    // Three on request, one at the stop.
    #expect(
      child.stderr.components(separatedBy: "sensorloop: summary after").count - 1 == 4, "\(child.stderr)")
  }

  /// Finding 2: a stop that comes during startup ends the program (exit 0, promptly) and systemd
  /// hears STOPPING=1, never READY=1: `--duration` shorter than startup, SIGTERM pending before
  /// the program runs, and SIGTERM sent 0 to 23 ms after the program has blocked its signals.
  @Test func aStopDuringStartupIsHonoured() throws {
    let folder = try scratch("startup-stop")
    defer { try? FileManager.default.removeItem(at: folder) }
    let binary = try releaseSensorloop()
    let notify = try NotifySocket()
    let environment = ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"]

    let short = try Child.spawn(
      binary, ["--config", simBoard, "--duration", "0.000001"], in: folder, environment: environment)
    #expect(short.wait(timeout: 5) == 0, "--duration 0.000001 did not exit 0 within 5 s")
    #expect(notify.newMessages() == ["STOPPING=1"])

    for _ in 0..<3 {
      let pending = try Child.spawn(
        binary, ["--config", simBoard], in: folder, environment: environment, blocked: [SIGTERM])
      pending.signal(SIGTERM)  // before main: blocked, so pending when the event loop starts
      #expect(pending.wait(timeout: 5) == 0, "\(pending.stderr)")
      #expect(notify.newMessages() == ["STOPPING=1"])
      #expect(pending.stderr.contains("sensorloop: summary after"))
    }

    var readyFirst = 0
    for step in 0..<60 {
      // 0 to 4.35 ms in 0.15 ms steps (startup takes a few ms), then 0 to 23 ms in 0.8 ms steps.
      let delay = UInt32(step < 30 ? step * 150 : (step - 30) * 800)
      let child = try Child.spawn(binary, ["--config", simBoard], in: folder, environment: environment)
      let blocked = Date().addingTimeInterval(5)
      while !child.blocks(SIGTERM) && Date() < blocked { usleep(100) }
      #expect(child.blocks(SIGTERM), "signals never blocked")
      usleep(delay)
      child.signal(SIGTERM)
      let status = child.wait(timeout: 5)
      #expect(
        status == 0,
        "SIGTERM \(delay) us after blocking: \(String(describing: status)) \(child.stderr)")
      let messages = notify.newMessages()
      #expect(messages == ["STOPPING=1"] || messages == ["READY=1", "STOPPING=1"], "\(messages)")
      if messages.first == "READY=1" { readyFirst += 1 }
    }
    print("SIGTERM during startup: 60 runs, \(readyFirst) reached READY=1 before the stop, all exit 0")
  }

  /// Finding 9 (first half): stdout's O_NONBLOCK is put back however the program ends: a
  /// startup failure (exit 1), a clean stop after a reload, with stdout and stderr one pipe.
  @Test func stdoutIsLeftBlockingOnEveryExitPath() throws {
    let folder = try scratch("nonblock")
    defer { try? FileManager.default.removeItem(at: folder) }
    let binary = try releaseSensorloop()
    let missingChip = folder.appendingPathComponent("chip.json").path
    try Data(
      """
      {
        "board": "missing chip",
        "gpio": { "chip": "sensorloop-no-such-chip" },
        "lines": { "led": { "name": "GPIO17", "direction": "output" } },
        "tasks": [ { "name": "blink", "kind": "heartbeat", "line": "led" } ]
      }
      """.utf8
    ).write(to: URL(fileURLWithPath: missingChip))
    let missingWatchdog = folder.appendingPathComponent("watchdog.json").path
    try Data(
      tickerConfig(
        "tick",
        extra: """
          ,
              { "name": "wd", "kind": "watchdog", "device": "\(folder.path)/no-such-dir/watchdog" }
          """
      ).utf8
    ).write(to: URL(fileURLWithPath: missingWatchdog))
    let good = folder.appendingPathComponent("good.json").path
    try Data(tickerConfig("tick").utf8).write(to: URL(fileURLWithPath: good))

    for (config, expected, sighup) in [(missingChip, 1, false), (missingWatchdog, 1, false), (good, 0, true)]
    {
      var pipeFDs: [Int32] = [0, 0]
      try #require(pipe(&pipeFDs) == 0)
      defer {
        close(pipeFDs[1])  // the drain thread then reads end of file
        close(pipeFDs[0])
      }
      // The read end drains into nothing, so a chatty run cannot fill the pipe.
      let reader = pipeFDs[0]
      let drain = Thread {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while read(reader, &buffer, buffer.count) > 0 {}
      }
      drain.start()
      #expect(fcntl(pipeFDs[1], F_GETFL) & O_NONBLOCK == 0)
      let child = try Child.spawn(
        binary, ["--config", config], in: folder, stdoutFD: pipeFDs[1], stderrFD: pipeFDs[1])
      if sighup {
        Thread.sleep(forTimeInterval: 0.5)
        child.signal(SIGHUP)
        Thread.sleep(forTimeInterval: 0.5)
        child.signal(SIGTERM)
      }
      #expect(child.wait(timeout: 10) == Int32(expected), "\(config)")
      #expect(fcntl(pipeFDs[1], F_GETFL) & O_NONBLOCK == 0, "\(config): stdout left non-blocking")
    }
  }

  /// Finding 11: SIGHUP applies a changed config (here a renamed ticker): the old task's
  /// records stop, the new one's start, no record is lost (each ticker's numbers run on without
  /// a gap and the summary's count is the lines written) or split; systemd hears RELOADING=1
  /// (with MONOTONIC_USEC) and READY=1 again.
  @Test func sighupAppliesAChangedConfig() throws {
    let folder = try scratch("reload")
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = folder.appendingPathComponent("board.json")
    try Data(tickerConfig("tick").utf8).write(to: config)
    let notify = try NotifySocket()
    let child = try Child.spawn(
      try releaseSensorloop(), ["--config", config.path], in: folder,
      environment: ["NOTIFY_SOCKET": notify.path])
    Thread.sleep(forTimeInterval: 0.7)
    try Data(tickerConfig("tock", period: 30).utf8).write(to: config)
    child.signal(SIGHUP)
    Thread.sleep(forTimeInterval: 0.7)
    child.signal(SIGTERM)
    #expect(child.wait(timeout: 10) == 0, "\(child.stderr)")
    let all = records(child.stdout)
    let ticks = all.filter { $0["task"] as? String == "tick" }
    let tocks = all.filter { $0["task"] as? String == "tock" }
    #expect(ticks.count >= 10 && tocks.count >= 10, "\(ticks.count) ticks, \(tocks.count) tocks")
    #expect(ticks.compactMap { $0["n"] as? Int } == Array(1...max(1, ticks.count)))
    #expect(tocks.compactMap { $0["n"] as? Int } == Array(1...max(1, tocks.count)))
    #expect((ticks.map(time).max() ?? 0) < (tocks.map(time).min() ?? 0))
    let tockTimes = tocks.map(time)
    #expect(zip(tockTimes, tockTimes.dropFirst()).allSatisfy { ($1 - $0) % 30_000_000 == 0 }, "off the grid")
    #expect(child.stderr.contains("output: \(all.count) records, 0 dropped"), "\(child.stderr)")
    let messages = notify.newMessages()
    #expect(messages.count == 4, "\(messages)")
    #expect(messages.first == "READY=1")
    #expect(messages.dropFirst().first?.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") == true, "\(messages)")
    let usec = messages.dropFirst().first.flatMap { Int64($0.split(separator: "=").last ?? "") } ?? 0
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    #expect(usec > 0 && usec <= Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1_000)
    #expect(Array(messages.suffix(2)) == ["READY=1", "STOPPING=1"])
  }

  /// A broken file at SIGHUP is reported on stderr and as a `reload_failed` record, and the
  /// running config goes on; a valid config that cannot start (its watchdog cannot be opened)
  /// is reported too, and the previous config starts again.
  @Test func aReloadThatFailsKeepsTheRunningConfig() throws {
    let folder = try scratch("broken")
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = folder.appendingPathComponent("board.json")
    try Data(tickerConfig("tick").utf8).write(to: config)
    let child = try Child.spawn(try releaseSensorloop(), ["--config", config.path], in: folder)
    Thread.sleep(forTimeInterval: 0.5)
    try Data("{ \"board\": \"half written\", \"tasks\": [".utf8).write(to: config)
    child.signal(SIGHUP)
    Thread.sleep(forTimeInterval: 0.5)
    let unopenable = "\(folder.path)/no-such-dir/watchdog"
    try Data(
      tickerConfig(
        "tock", extra: ",\n    { \"name\": \"wd\", \"kind\": \"watchdog\", \"device\": \"\(unopenable)\" }"
      )
      .utf8
    ).write(to: config)
    child.signal(SIGHUP)
    Thread.sleep(forTimeInterval: 0.5)
    child.signal(SIGTERM)
    #expect(child.wait(timeout: 10) == 0, "\(child.stderr)")
    let all = records(child.stdout)
    let failures = all.filter { $0["event"] as? String == "reload_failed" }
    try #require(failures.count == 2, "\(child.stdout)")
    #expect(failures.allSatisfy { $0["task"] as? String == "sensorloop" })
    let first = failures[0]["error"] as? String ?? ""
    #expect(first.contains("board.json:1:"), "\(first)")
    let second = failures[1]["error"] as? String ?? ""
    #expect(second.contains("cannot open the watchdog"), "\(second)")
    #expect(child.stderr.contains("sensorloop: reload failed, the running config stays: \(config.path):1:"))
    #expect(child.stderr.contains("sensorloop: reload failed, starting the previous config again: "))
    // The ticker ran before, between and after the two failures; the new task never did.
    let ticks = all.filter { $0["task"] as? String == "tick" }.map(time)
    #expect(ticks.contains { $0 < time(failures[0]) })
    #expect(ticks.contains { $0 > time(failures[0]) && $0 < time(failures[1]) })
    #expect(ticks.contains { $0 > time(failures[1]) })
    #expect(!all.contains { $0["task"] as? String == "tock" })
  }

  /// logrotate: the output file is moved away, then SIGHUP; the records written before it are
  /// in the moved file, those after it in a new file at the configured path, none lost.
  @Test func sighupReopensTheOutputFile() throws {
    let folder = try scratch("logrotate")
    defer { try? FileManager.default.removeItem(at: folder) }
    let output = folder.appendingPathComponent("records.jsonl").path
    let config = folder.appendingPathComponent("board.json")
    try Data(tickerConfig("tick", output: output).utf8).write(to: config)
    let child = try Child.spawn(try releaseSensorloop(), ["--config", config.path], in: folder)
    Thread.sleep(forTimeInterval: 0.6)
    try FileManager.default.moveItem(atPath: output, toPath: output + ".1")
    child.signal(SIGHUP)
    Thread.sleep(forTimeInterval: 0.6)
    child.signal(SIGTERM)
    #expect(child.wait(timeout: 10) == 0, "\(child.stderr)")
    let old = records((try? String(contentsOfFile: output + ".1", encoding: .utf8)) ?? "")
    let new = records((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    #expect(old.count >= 10 && new.count >= 10, "\(old.count) before, \(new.count) after")
    // The ticker restarts with the reloaded config: 1, 2, ... before and again after.
    let numbers = (old + new).compactMap { $0["n"] as? Int }
    let restart = numbers.indices.dropFirst().first { numbers[$0] == 1 } ?? numbers.count
    #expect(Array(numbers[..<restart]) == Array(1...max(1, restart)))
    #expect(Array(numbers[restart...]) == Array(1...max(1, numbers.count - restart)))
    #expect(child.stderr.contains("output: \(old.count + new.count) records, 0 dropped"), "\(child.stderr)")
  }

  /// Twenty SIGHUPs in a row: every one is a reload (or coalesces with one), the program keeps
  /// running and stops cleanly on SIGTERM.
  @Test func twentyQuickSIGHUPsAreSurvived() throws {
    let folder = try scratch("hup20")
    defer { try? FileManager.default.removeItem(at: folder) }
    let child = try Child.spawn(try releaseSensorloop(), ["--config", simBoard], in: folder)
    Thread.sleep(forTimeInterval: 0.5)
    for _ in 0..<20 {
      child.signal(SIGHUP)
      usleep(5_000)
    }
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    let lastHangup = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    Thread.sleep(forTimeInterval: 1.5)
    child.signal(SIGTERM)
    #expect(child.wait(timeout: 10) == 0, "\(child.stderr)")
    let all = records(child.stdout)
    #expect(all.contains { $0["task"] as? String == "soc_temp" })
    // Still running after the last one: the 10 Hz anemometer's readings go on.
    #expect(
      all.filter { $0["task"] as? String == "wind" && time($0) > lastHangup }.count >= 1, "\(all.count)")
    #expect(child.stderr.components(separatedBy: "sensorloop: summary after").count - 1 == 1)
    #expect(!child.stderr.contains("reload failed"), "\(child.stderr)")
  }

  /// A SIGTERM right behind a SIGHUP (read in the same wait, or during the reload) stops the
  /// program: exit 0, promptly, every time.
  @Test func aStopRightAfterASIGHUPIsHonoured() throws {
    let folder = try scratch("hup-term")
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = folder.appendingPathComponent("board.json")
    try Data(tickerConfig("tick").utf8).write(to: config)
    for round in 0..<20 {
      let child = try Child.spawn(try releaseSensorloop(), ["--config", config.path], in: folder)
      usleep(UInt32(50_000 + round % 5 * 10_000))
      child.signal(SIGHUP)
      if round % 2 == 1 { usleep(UInt32(round * 200)) }
      child.signal(SIGTERM)
      #expect(child.wait(timeout: 5) == 0, "round \(round): \(child.stderr)")
    }
  }

  /// A reload re-runs startup (which allocates); the steady states before and after it allocate
  /// nothing, and neither do the signals that ask for it and for a summary (the allocation
  /// counter preloaded into the release build).
  @Test func noAllocationsAcrossAReload() throws {
    let folder = try scratch("alloc-reload")
    defer { try? FileManager.default.removeItem(at: folder) }
    let library = folder.appendingPathComponent("liballoccounter.so")
    try buildAllocCounter(at: library)
    let child = try Child.spawn(
      try releaseSensorloop(), ["--config", simBoard, "--duration", "3"], in: folder,
      environment: ["LD_PRELOAD": library.path])
    Thread.sleep(forTimeInterval: 0.8)
    child.signal(SIGUSR1)
    Thread.sleep(forTimeInterval: 0.4)
    child.signal(SIGHUP)
    Thread.sleep(forTimeInterval: 0.7)
    child.signal(SIGHUP)
    Thread.sleep(forTimeInterval: 0.4)
    child.signal(SIGUSR1)
    #expect(child.wait(timeout: 15) == 0, "\(child.stderr)")
    #expect(records(child.stdout).count > 10)
    #expect(child.stderr.components(separatedBy: "sensorloop: summary after").count - 1 == 3)
    #expect(child.stderr.contains("heap allocations after startup: 0\n"), "\(child.stderr)")
  }
}
