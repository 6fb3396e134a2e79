// The built binary as a service runs it (issue 13): the watchdog task judges each periodic task
// by its own deadline (a long period is not a stall, and systemd's WATCHDOG=1 goes on), never
// creates its device and refuses what is not one, keeps a heartbeat's 16 steps, and the largest
// config the capacity plan allows starts under systemd while one more of anything is refused.

import Foundation
import Testing

/// A folder for one test's files, removed by the caller.
private func scratch(_ name: String) throws -> URL {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sensorloop-\(name)-\(getpid())")
  try? FileManager.default.removeItem(at: folder)
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  return folder
}

/// A mock board with a slow sampler, a fast ticker and a watchdog (`device` as JSON, or nil).
private func watchedBoard(
  sampler file: String, device: String?, kick: Int, stall: Int, heartbeat: [Int]? = nil
)
  -> String
{
  let deviceKey = device.map { #""device": "\#($0)", "# } ?? ""
  let heartbeatTask =
    heartbeat.map {
      #"{ "name": "heartbeat", "kind": "heartbeat", "line": "led", "pattern_ms": \#($0) },"#
    } ?? ""
  return """
    {
      "board": "watchdog test board",
      "gpio": "mock",
      "lines": { "led": { "name": "GPIO17", "direction": "output" } },
      "tasks": [
        \(heartbeatTask)
        { "name": "slow", "kind": "sampler", "path": "\(file)", "period_ms": 1000 },
        { "name": "tick", "kind": "ticker", "period_ms": 20 },
        { "name": "watchdog", "kind": "watchdog", \(deviceKey)"kick_ms": \(kick), "stall_ms": \(stall) }
      ]
    }
    """
}

private func write(_ text: String, _ name: String, in folder: URL) throws -> String {
  let path = folder.appendingPathComponent(name).path
  try Data(text.utf8).write(to: URL(fileURLWithPath: path))
  return path
}

@Suite(.serialized) struct WatchdogServiceTests {
  /// Finding 3: a sampler reading every second beside a watchdog with a 200 ms stall time is on
  /// time between its readings: no stall record, and WATCHDOG=1 goes on for the whole run (on
  /// main the sampler counted as stalled 200 ms after each reading, and the pings stopped).
  @Test func aTaskWithALongPeriodIsNotStalled() throws {
    let folder = try scratch("longperiod")
    defer { try? FileManager.default.removeItem(at: folder) }
    let temp = try write("21000\n", "temp", in: folder)
    let config = try write(
      watchedBoard(sampler: temp, device: "/dev/null", kick: 50, stall: 200), "board.json", in: folder)
    let notify = try NotifySocket()
    // WatchdogSec=0.2 s: a ping every 0.1 s while no watched task is stalled.
    let run = try sensorloop(
      ["--config", config, "--duration", "2.5"],
      environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"],
      whileRunning: notify.drain(while:))
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.events("watchdog").isEmpty, "\(run.events("watchdog"))")
    #expect(run.events("slow", "reading").count == 3)
    let messages = notify.messages()
    #expect(messages.first == "READY=1")
    #expect(messages.last == "STOPPING=1")
    // 24 due in 2.5 s; a loaded host only delays them.
    #expect(messages.filter { $0 == "WATCHDOG=1" }.count >= 20, "\(messages)")
  }

  /// Finding 12: a watchdog without a device supervises: it runs anywhere (no device to open),
  /// and the systemd pings go on while the tasks are on time.
  @Test func aWatchdogWithoutADeviceSupervises() throws {
    let folder = try scratch("nodevice")
    defer { try? FileManager.default.removeItem(at: folder) }
    let temp = try write("21000\n", "temp", in: folder)
    let config = try write(
      watchedBoard(sampler: temp, device: nil, kick: 50, stall: 200), "board.json", in: folder)
    let notify = try NotifySocket()
    let run = try sensorloop(
      ["--config", config, "--duration", "1"],
      environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"],
      whileRunning: notify.drain(while:))
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.events("watchdog").isEmpty)
    #expect(notify.messages().filter { $0 == "WATCHDOG=1" }.count >= 7)
  }

  /// Finding 7: a device path that does not exist is an error (exit 1, nothing started), and
  /// no file is made there (main opened it with O_CREAT and "kicked" a regular file).
  @Test func aMissingDeviceIsNeverCreated() throws {
    let folder = try scratch("missingdevice")
    defer { try? FileManager.default.removeItem(at: folder) }
    let temp = try write("21000\n", "temp", in: folder)
    let device = folder.appendingPathComponent("watchdog").path
    let config = try write(
      watchedBoard(sampler: temp, device: device, kick: 50, stall: 200), "board.json", in: folder)
    let run = try sensorloop(["--config", config, "--duration", "0.5"])
    #expect(run.status == 1)
    #expect(run.stdout.isEmpty)
    #expect(
      run.stderr == "sensorloop: cannot open the watchdog \(device) (ENOENT: no such file or directory)\n")
    #expect(!FileManager.default.fileExists(atPath: device))
  }

  /// Finding 7: an existing regular file is refused: kicking it would protect nothing.
  @Test func aRegularFileIsRefused() throws {
    let folder = try scratch("regulardevice")
    defer { try? FileManager.default.removeItem(at: folder) }
    let temp = try write("21000\n", "temp", in: folder)
    let device = try write("", "watchdog", in: folder)
    let config = try write(
      watchedBoard(sampler: temp, device: device, kick: 50, stall: 200), "board.json", in: folder)
    let run = try sensorloop(["--config", config, "--duration", "0.5"])
    #expect(run.status == 1)
    #expect(run.stdout.isEmpty)
    #expect(
      run.stderr.hasPrefix("sensorloop: the watchdog \(device) is not a character device (a regular file)"),
      "\(run.stderr)")
    // Its size, not its contents: Foundation's Data(contentsOf:) leaks its buffer on an empty
    // file (LeakSanitizer reports it in the ASan run).
    #expect((try FileManager.default.attributesOfItem(atPath: device)[.size] as? NSNumber)?.intValue == 0)
  }

  /// A FIFO stands in for the device in tests: it gets the kicks and, on a clean exit, the
  /// disarming `V`.
  @Test func aFIFOStandsInForTheDevice() throws {
    let folder = try scratch("fifodevice")
    defer { try? FileManager.default.removeItem(at: folder) }
    let temp = try write("21000\n", "temp", in: folder)
    let device = folder.appendingPathComponent("watchdog").path
    try #require(mkfifo(device, 0o600) == 0)
    let reader = open(device, O_RDONLY | O_NONBLOCK)
    try #require(reader >= 0)
    defer { close(reader) }
    let config = try write(
      watchedBoard(sampler: temp, device: device, kick: 50, stall: 200), "board.json", in: folder)
    let run = try sensorloop(["--config", config, "--duration", "0.5"])
    #expect(run.status == 0, "\(run.stderr)")
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = read(reader, &buffer, buffer.count)
    let kicks = String(decoding: buffer[0..<max(0, n)], as: UTF8.self)
    // A kick every 50 ms for 0.5 s (a loaded host only delays them), then the disarm.
    #expect(kicks.hasSuffix("V") && kicks.dropLast().allSatisfy { $0 == "k" }, "\(kicks)")
    #expect((5...11).contains(kicks.count - 1), "\(kicks)")
  }
}

@Suite(.serialized) struct HeartbeatPatternEndToEndTests {
  /// Finding 5: every step of a 16-step pattern is kept. Eight 10 ms steps, then eight of 1 s:
  /// in 1.5 s the heartbeat wakes about 8 + 2 times. Cut to 8 steps (main) it blinked 10 ms
  /// steps all along, about 150 wakes. A loaded host may delay the loop past a 10 ms step, which
  /// is then skipped, not replayed (8 wakes seen in a CI run): the bound tells 10 from 150.
  @Test func aSixteenStepPatternKeepsEveryStep() throws {
    let folder = try scratch("pattern16")
    defer { try? FileManager.default.removeItem(at: folder) }
    let temp = try write("21000\n", "temp", in: folder)
    let pattern = Array(repeating: 10, count: 8) + Array(repeating: 1000, count: 8)
    let config = try write(
      watchedBoard(sampler: temp, device: "/dev/null", kick: 50, stall: 200, heartbeat: pattern),
      "board.json",
      in: folder)
    let run = try sensorloop(["--config", config, "--duration", "1.5"])
    #expect(run.status == 0, "\(run.stderr)")
    let row = run.stderr.split(separator: "\n").last { $0.hasPrefix("heartbeat ") } ?? ""
    let columns = row.split(separator: " ")
    let wakes = columns.count > 3 ? Int(columns[3]) ?? -1 : -1
    #expect((6...20).contains(wakes), "\(row)")
  }
}

@Suite(.serialized) struct LargestConfigEndToEndTests {
  /// Finding 6: the largest config the plan allows (Tests/LoopConfigTests/largest.json: every
  /// limit at its maximum) passes --check and starts under systemd (`$NOTIFY_SOCKET`,
  /// `$WATCHDOG_USEC`: the keepalive's slot, timer and socket are counted), runs, and stops with
  /// exit 0 — with no more file descriptors than the plan counts (`ulimit -n` = the plan's 64
  /// plus stdin, stdout and stderr). On main the keepalive found no slot free.
  @Test func theLargestConfigStartsUnderSystemd() throws {
    let folder = try scratch("largest")
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = try String(
      contentsOf: packageRoot.appendingPathComponent("Tests/LoopConfigTests/largest.json"), encoding: .utf8)
    let config = try write(
      text.replacingOccurrences(of: "/tmp/sensorloop-largest-", with: folder.path + "/"), "largest.json",
      in: folder)
    let check = try sensorloop(["--config", config, "--check"])
    #expect(check.status == 0, "\(check.stderr)")
    #expect(
      check.stdout == """
        slots       40 of 40
        timers      29 of 40
        lines       32 of 32
        fds         64 of 64
        interrupts  40 of 64
        ring bytes  65536

        """)
    let notify = try NotifySocket()
    let binary = buildFolder.appendingPathComponent("sensorloop").path
    let run = try sensorloop(
      ["-c", "ulimit -n 67 && exec \"$0\" --config \"$1\" --duration 1.5", binary, config],
      binary: URL(fileURLWithPath: "/bin/sh"),
      environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"],
      whileRunning: notify.drain(while:))
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stderr.contains("sensorloop: summary after"))
    let messages = notify.messages()
    #expect(messages.first == "READY=1", "\(messages)")
    #expect(messages.last == "STOPPING=1", "\(messages)")
    #expect(messages.filter { $0 == "WATCHDOG=1" }.count >= 3, "\(messages)")
    let records = try String(contentsOfFile: folder.appendingPathComponent("out").path, encoding: .utf8)
      .split(separator: "\n")
    #expect(records.contains { $0.contains(#""task":"wind4","event":"reading""#) })
    #expect(records.contains { $0.contains(#""task":"temp","event":"reading""#) })
    #expect(!records.contains { $0.contains(#""event":"stall""#) })
  }
}
