// What the benchmark prints: one `key=value` line per (workload, implementation), the medians
// over repeated runs, and a table of ratios to the C baseline with BENCH.md's targets.
// Host-only code (arrays, strings): it runs before and after the timed windows, never in them.

/// One measured figure of a line, with the number of decimals it is printed with.
struct Figure {
  /// The key, e.g. `p50_us`.
  let key: String
  /// The value.
  var value: Double
  /// Decimals printed.
  let decimals: Int
}

/// One result line: a workload measured for one implementation.
struct ResultLine {
  /// The workload, e.g. `w3` or `w1-eventfd`.
  let workload: String
  /// `c`, `sensorloop` or `sensorloop-embedded`.
  let impl: String
  /// The figures, in print order.
  var figures: [Figure] = []

  /// Appends a figure.
  mutating func add(_ key: String, _ value: Double, decimals: Int = 1) {
    figures.append(Figure(key: key, value: value, decimals: decimals))
  }

  /// Appends a count (printed without decimals).
  mutating func add(_ key: String, count: Int64) {
    figures.append(Figure(key: key, value: Double(count), decimals: 0))
  }

  /// The value of `key`, if the line has it.
  func value(_ key: String) -> Double? { figures.first { $0.key == key }?.value }

  /// The line as printed: `workload=... impl=... key=value ...`.
  var text: String {
    var s = "workload=\(workload) impl=\(impl)"
    for f in figures { s += " \(f.key)=\(format(f.value, decimals: f.decimals))" }
    return s
  }
}

/// `value` with `decimals` digits after the point, rounded half away from zero.
func format(_ value: Double, decimals: Int) -> String {
  if value.isNaN { return "nan" }
  var scale = 1.0
  for _ in 0..<decimals { scale *= 10 }
  let scaled = abs(value) * scale + 0.5
  if scaled >= 9.0e18 { return value < 0 ? "-inf" : "inf" }
  let whole = Int64(scaled)
  let unit = Int64(scale)
  var s = value < 0 && whole != 0 ? "-" : ""
  s += String(whole / unit)
  if decimals > 0 {
    var fraction = String(whole % unit)
    while fraction.count < decimals { fraction = "0" + fraction }
    s += "." + fraction
  }
  return s
}

/// Latency percentiles of nanosecond samples, in microseconds.
struct Percentiles {
  var p50 = 0.0, p99 = 0.0, p999 = 0.0, max = 0.0

  /// Nearest-rank percentiles of `samples` (sorted in place).
  init(_ samples: inout [Int64]) {
    guard !samples.isEmpty else { return }
    samples.sort()
    func at(_ q: Double) -> Double {
      let exact = q * Double(samples.count)
      let rank = (Double(Int(exact)) == exact ? Int(exact) : Int(exact) + 1) - 1
      return Double(samples[Swift.max(0, Swift.min(samples.count - 1, rank))]) / 1000
    }
    p50 = at(0.50)
    p99 = at(0.99)
    p999 = at(0.999)
    max = Double(samples[samples.count - 1]) / 1000
  }
}

/// The per-figure medians of the same line over several runs (runs[i] lists run i's lines).
func medians(_ runs: [[ResultLine]]) -> [ResultLine] {
  guard var merged = runs.first else { return [] }
  for (index, line) in merged.enumerated() {
    for (figureIndex, figure) in line.figures.enumerated() {
      var values: [Double] = []
      for run in runs {
        if let other = run.first(where: { $0.workload == line.workload && $0.impl == line.impl }),
          let v = other.value(figure.key)
        {
          values.append(v)
        }
      }
      values.sort()
      if !values.isEmpty {
        let middle = values.count / 2
        merged[index].figures[figureIndex].value =
          values.count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2
      }
    }
  }
  return merged
}

/// A row of the ratio table: one figure of one workload, compared with C.
struct TableRow {
  let workload: String
  let key: String
  let label: String
  /// The implementation compared with C.
  let impl: String
  /// The target as a maximum ratio to C (nil: reported, not targeted).
  let maxRatio: Double?
  /// An absolute target on the sensorloop value (e.g. 0 allocations), instead of a ratio.
  let maxValue: Double?
}

/// The rows the table shows, with BENCH.md's targets.
let tableRows: [TableRow] =
  [
    TableRow(
      workload: "w1", key: "ns_per_hop", label: "W1 ns/hop (in-process)", impl: "sensorloop",
      maxRatio: 3, maxValue: nil),
    TableRow(
      workload: "w1", key: "instructions_per_hop", label: "W1 instructions/hop (callgrind)",
      impl: "sensorloop", maxRatio: 3, maxValue: nil),
    TableRow(
      workload: "w1-eventfd", key: "ns_per_hop", label: "W1 ns/hop (eventfd each hop)",
      impl: "sensorloop", maxRatio: nil, maxValue: nil),
    TableRow(
      workload: "w2", key: "p50_us", label: "W2 p50 µs", impl: "sensorloop", maxRatio: 1.1,
      maxValue: nil),
    TableRow(
      workload: "w2", key: "instructions_per_wake", label: "W2 instructions/wake (callgrind)",
      impl: "sensorloop", maxRatio: nil, maxValue: nil),
    TableRow(
      workload: "w2", key: "p99_us", label: "W2 p99 µs", impl: "sensorloop", maxRatio: nil,
      maxValue: nil),
    TableRow(
      workload: "w2", key: "p999_us", label: "W2 p99.9 µs", impl: "sensorloop", maxRatio: nil,
      maxValue: nil),
    TableRow(
      workload: "w2", key: "max_us", label: "W2 max µs", impl: "sensorloop", maxRatio: nil,
      maxValue: nil),
    TableRow(
      workload: "w3", key: "p50_us", label: "W3 p50 lateness µs", impl: "sensorloop", maxRatio: 1.1,
      maxValue: nil),
    TableRow(
      workload: "w3", key: "instructions_per_tick", label: "W3 instructions/tick (callgrind)",
      impl: "sensorloop", maxRatio: nil, maxValue: nil),
    TableRow(
      workload: "w3", key: "p99_us", label: "W3 p99 lateness µs", impl: "sensorloop", maxRatio: nil,
      maxValue: nil),
    TableRow(
      workload: "w3", key: "max_us", label: "W3 max lateness µs", impl: "sensorloop", maxRatio: nil,
      maxValue: nil),
    TableRow(
      workload: "w3", key: "cpu", label: "W3 CPU time / wall", impl: "sensorloop", maxRatio: 1.2,
      maxValue: nil),
    TableRow(
      workload: "w3", key: "allocs_per_tick", label: "W3 allocations / tick", impl: "sensorloop",
      maxRatio: nil, maxValue: 0),
    TableRow(
      workload: "w4", key: "rss_kib", label: "W4 max RSS KiB (Embedded)",
      impl: "sensorloop-embedded", maxRatio: 1.3, maxValue: nil),
    TableRow(
      workload: "w4", key: "rss_kib", label: "W4 max RSS KiB (host, Swift runtime)",
      impl: "sensorloop", maxRatio: nil, maxValue: nil),
    TableRow(
      workload: "w4", key: "cpu_pct", label: "W4 CPU % (Embedded)", impl: "sensorloop-embedded",
      maxRatio: 1.2, maxValue: nil),
    TableRow(
      workload: "w4", key: "binary_kib", label: "W4 stripped binary KiB (Embedded)",
      impl: "sensorloop-embedded", maxRatio: nil, maxValue: nil),
    TableRow(
      workload: "w4", key: "allocs", label: "W4 allocations after startup (Embedded)",
      impl: "sensorloop-embedded", maxRatio: nil, maxValue: 0),
    TableRow(
      workload: "w4", key: "allocs", label: "W4 allocations after startup (host)",
      impl: "sensorloop", maxRatio: nil, maxValue: 0),
    TableRow(
      workload: "w4", key: "aarch64_binary_kib", label: "aarch64 stripped sensorloop KiB",
      impl: "sensorloop-embedded", maxRatio: nil, maxValue: 256),
  ]
  + [0, 1].flatMap { (qos: Int) -> [TableRow] in
    let w = "w6-qos\(qos)"
    return [
      TableRow(
        workload: w, key: "cpu_us_per_reading", label: "W6 QoS \(qos) CPU µs/reading", impl: "sensorloop",
        maxRatio: 1.5, maxValue: nil),
      TableRow(
        workload: w, key: "allocs", label: "W6 QoS \(qos) allocations", impl: "sensorloop", maxRatio: nil,
        maxValue: 0),
    ]
  }
  + [1, 10, 50].flatMap { (khz: Int) -> [TableRow] in
    let w = "w5-\(khz)khz"
    return [
      TableRow(
        workload: w, key: "p50_us", label: "W5 \(khz) kHz edge p50 µs", impl: "sensorloop", maxRatio: nil,
        maxValue: nil),
      TableRow(
        workload: w, key: "p99_us", label: "W5 \(khz) kHz edge p99 µs", impl: "sensorloop", maxRatio: nil,
        maxValue: nil),
      TableRow(
        workload: w, key: "lost", label: "W5 \(khz) kHz edges lost", impl: "sensorloop", maxRatio: nil,
        maxValue: nil),
    ]
  }

/// Pads `s` with spaces to `width` characters (on the left when `right`).
func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
  let fill = String(repeating: " ", count: Swift.max(0, width - s.count))
  return right ? fill + s : s + fill
}

/// The human-readable table: each targeted figure beside C, the ratio and the verdict.
func table(_ lines: [ResultLine]) -> String {
  func find(_ workload: String, _ impl: String) -> ResultLine? {
    lines.first { $0.workload == workload && $0.impl == impl }
  }
  var rows: [[String]] = [["figure", "C", "sensorloop", "ratio", "target", ""]]
  for row in tableRows {
    guard let ours = find(row.workload, row.impl)?.value(row.key) else { continue }
    let c = find(row.workload, "c")?.value(row.key)
    let decimals = find(row.workload, row.impl)?.figures.first { $0.key == row.key }?.decimals ?? 1
    var cells = [
      row.label, c.map { format($0, decimals: decimals) } ?? "—", format(ours, decimals: decimals),
    ]
    var ratio: Double? = nil
    if let c, c > 0 { ratio = ours / c }
    cells.append(ratio.map { format($0, decimals: 2) + "x" } ?? "—")
    if let maxRatio = row.maxRatio {
      cells.append("≤ " + format(maxRatio, decimals: 1) + "x")
      cells.append(ratio.map { $0 <= maxRatio ? "met" : "MISSED" } ?? "")
    } else if let maxValue = row.maxValue {
      cells.append("≤ " + format(maxValue, decimals: 0))
      cells.append(ours <= maxValue ? "met" : "MISSED")
    } else {
      cells += ["", ""]
    }
    rows.append(cells)
  }
  // Rows for workloads the table list does not name (W5 rates, extra variants), ratio-free.
  for line in lines where line.impl != "c" && !tableRows.contains(where: { $0.workload == line.workload }) {
    for figure in line.figures {
      let c = find(line.workload, "c")?.value(figure.key)
      let ratio = c.flatMap { $0 > 0 ? figure.value / $0 : nil }
      rows.append([
        "\(line.workload.uppercased()) \(figure.key) (\(line.impl))",
        c.map { format($0, decimals: figure.decimals) } ?? "—",
        format(figure.value, decimals: figure.decimals),
        ratio.map { format($0, decimals: 2) + "x" } ?? "—", "", "",
      ])
    }
  }
  var widths = [Int](repeating: 0, count: 6)
  for r in rows { for (i, cell) in r.enumerated() { widths[i] = Swift.max(widths[i], cell.count) } }
  var out = ""
  for (n, r) in rows.enumerated() {
    var text = ""
    for (i, cell) in r.enumerated() {
      text += (i == 0 ? "" : "  ") + pad(cell, widths[i], right: i > 0 && i < 4)
    }
    while text.hasSuffix(" ") { text.removeLast() }
    out += text + "\n"
    if n == 0 {
      out += String(repeating: "-", count: widths.reduce(0, +) + 10) + "\n"
    }
  }
  return out
}
