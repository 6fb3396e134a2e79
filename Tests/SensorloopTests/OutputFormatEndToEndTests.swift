// The program's two output conventions, run as a user runs them: `wall_ns` in every JSON record
// (Unix time now, a fixed distance from `t_ns`), and Boards/sim.json with
// `"output": {"format": "influx"}` writing InfluxDB line protocol (release build, allocation
// counter preloaded: nothing allocated after startup).

import Foundation
import Testing

@Suite(.serialized) struct OutputFormatEndToEndTests {
  /// Unix nanoseconds now.
  func unixNow() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

  @Test func everyRecordCarriesTheWallClock() throws {
    let before = unixNow()
    let run = try sensorloop(["--config", "Boards/sim.json", "--duration", "2"])
    let after = unixNow()
    #expect(run.status == 0)
    let records = run.records
    #expect(records.count > 5)
    var offsets: [Int64] = []
    for record in records {
      let t = try #require((record["t_ns"] as? NSNumber)?.int64Value)
      let wall = try #require((record["wall_ns"] as? NSNumber)?.int64Value, "\(record)")
      // Records are stamped with their event's time: at most a second before the run started.
      #expect(wall > before - 1_000_000_000 && wall < after, "\(record)")
      offsets.append(wall - t)
    }
    // CLOCK_REALTIME − CLOCK_MONOTONIC, read per record: the same within a millisecond unless
    // the clock was stepped during the run.
    #expect(offsets.max()! - offsets.min()! < 1_000_000)
  }

  @Test func influxFormatWritesLineProtocol() throws {
    let sim =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: packageRoot.appendingPathComponent("Boards/sim.json"))) as! [String: Any]
    var config = sim
    config["output"] = ["to": "stdout", "format": "influx"]
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "sensorloop-influx-\(getpid()).json")
    try JSONSerialization.data(withJSONObject: config).write(to: path)
    defer { try? FileManager.default.removeItem(at: path) }
    // The release build (what a board runs) with the allocation counter preloaded: the
    // conversion to line protocol allocates nothing after startup either.
    let release = try releaseSensorloop()
    let library = FileManager.default.temporaryDirectory.appendingPathComponent(
      "liballoccounter-influx-\(getpid()).so")
    try buildAllocCounter(at: library)
    defer { try? FileManager.default.removeItem(at: library) }
    let before = unixNow()
    let run = try sensorloop(
      ["--config", path.path, "--duration", "3"], binary: release, environment: ["LD_PRELOAD": library.path])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stderr.contains("heap allocations after startup: 0\n"), "\(run.stderr)")
    let lines = run.stdout.split(separator: "\n").map(String.init)
    #expect(lines.count > 5)
    // measurement,task=name field=value[,field=value...] timestamp (names need no escapes).
    let shape = try Regex(#"^([a-z_]+),task=([a-z0-9_-]+) ([a-z_]+=[^ ]+) ([0-9]{19})$"#)
    var measurements = Set<String>()
    for line in lines {
      let match = try #require(line.wholeMatch(of: shape), "not line protocol: \(line)")
      measurements.insert(String(match.output[1].substring!))
      let timestamp = Int64(match.output[4].substring!)!
      #expect(timestamp > before - 1_000_000_000 && timestamp < unixNow(), "\(line)")
    }
    // sim.json's stimuli: the wind's readings, button presses, knob steps, the sampler's.
    #expect(measurements.isSuperset(of: ["reading", "press", "release", "step"]), "\(measurements)")
    let reading = try #require(lines.first { $0.hasPrefix("reading,task=wind ") })
    #expect(reading.contains(" count=") && reading.contains(",unit=\"km/h\""), "\(reading)")
  }
}
