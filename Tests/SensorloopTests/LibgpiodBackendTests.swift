// The board binary's two libgpiod backends on this host, in one build: the release sensorloop
// is pointed at libgpiod 1.6 (the host's libgpiod.so.2, Pi OS bookworm's API) and at libgpiod
// 2.2.1 (trixie's amd64 libgpiod3 unpacked into .build-trixie-amd64 by Tests/run, through
// cross/trixie-packages) with $SENSORLOOP_LIBGPIOD. This host has no GPIO chip, so each run
// loads its library, lists the chips through it and fails as a user would see it; and a board
// with neither library gets told what to install.

import Foundation
import Testing

/// A real-board config: the Pi 4's header chip, one button.
private let realBoard = """
  {"board": "test", "gpio": {"chip": "pinctrl-bcm2711"},
   "lines": {"button": {"name": "GPIO17", "direction": "input", "bias": "pull-up", "kernel_queue": 64}},
   "tasks": [{"name": "button", "kind": "button", "line": "button", "debounce_ms": 10}]}
  """

@Suite(.serialized, .enabled(if: !FileManager.default.fileExists(atPath: "/dev/gpiochip0")))
struct LibgpiodBackendTests {
  static let libgpiod3 = packageRoot.appendingPathComponent(
    ".build-trixie-amd64/usr/lib/x86_64-linux-gnu/libgpiod.so.3")
  static let libgpiod2 = URL(fileURLWithPath: "/usr/lib/x86_64-linux-gnu/libgpiod.so.2")

  private func run(library: String) throws -> Run {
    let config = FileManager.default.temporaryDirectory.appendingPathComponent(
      "sensorloop-real-\(getpid()).json")
    try realBoard.write(to: config, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: config) }
    return try sensorloop(
      ["--config", config.path], binary: releaseBinary, environment: ["SENSORLOOP_LIBGPIOD": library])
  }

  private var releaseBinary: URL { packageRoot.appendingPathComponent(".build/release/sensorloop") }

  @Test func v2LibgpiodIsLoadedAndListsTheChips() throws {
    try #require(
      FileManager.default.fileExists(atPath: Self.libgpiod3.path),
      "no libgpiod 2.2.1 here: run cross/trixie-packages amd64 libgpiod3 (Tests/run does)")
    let run = try run(library: Self.libgpiod3.path)
    #expect(run.status == 1)
    #expect(
      run.stderr.contains(
        "gpio: no chip labelled \"pinctrl-bcm2711\" (libgpiod 2.2.1); no GPIO chips found"), "\(run.stderr)")
  }

  @Test func v1LibgpiodIsLoadedAndListsTheChips() throws {
    let run = try run(library: Self.libgpiod2.path)
    #expect(run.status == 1)
    #expect(
      run.stderr.contains("gpio: no chip labelled \"pinctrl-bcm2711\" (libgpiod 1.6"), "\(run.stderr)")
  }

  @Test func withoutLibgpiodTheMessageSaysWhatToInstall() throws {
    let run = try run(library: "/nonexistent/libgpiod.so.3")
    #expect(run.status == 1)
    #expect(run.stderr.contains("libgpiod is not installed"), "\(run.stderr)")
    #expect(run.stderr.contains("sudo apt install libgpiod3 on Raspberry Pi OS trixie"), "\(run.stderr)")
    #expect(run.stderr.contains("libgpiod2 on bookworm"), "\(run.stderr)")
  }

  /// The summary names each line by its key in the config with the kernel's name beside it, and
  /// says what the line got: on the simulated board, mock v2 records and the default queue.
  @Test func summaryRowsNameTheConfigsLinesAndTheirBackend() throws {
    let run = try sensorloop(["--config", "Boards/sim.json", "--duration", "1"], binary: releaseBinary)
    #expect(run.status == 0)
    #expect(
      run.stderr.contains(
        "line button (GPIO27): "), "\(run.stderr)")
    #expect(run.stderr.contains("; mock v2 records, queue 256, debounce in software\n"), "\(run.stderr)")
    #expect(run.stderr.contains("line wind (GPIO22): "), "\(run.stderr)")
  }
}
