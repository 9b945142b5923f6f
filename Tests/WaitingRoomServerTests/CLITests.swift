import Dispatch
import Foundation
import TestSupport
import Testing

/// The real `waitroom room …` binary against a running gate and a real Redis.
@Suite("Ops CLI: waitroom room", .serialized, .stopsGates)
struct CLITests {
    /// What one run of the binary left behind.
    struct Run: Sendable, CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }

        /// stdout as a JSON object (for `--json`), empty when it is not one.
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any]) ?? [:] }
        var settings: [String: Any] { json["settings"] as? [String: Any] ?? [:] }
    }

    static var binary: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/waitroom")
    }

    /// Collects a pipe's bytes on a thread of its own, so a chatty stderr cannot fill up and stall the child
    /// while stdout is being read.
    final class Drain: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var data = Data()

        init(_ pipe: Pipe) {
            DispatchQueue.global().async {
                self.data = pipe.fileHandleForReading.readDataToEndOfFile()
                self.done.signal()
            }
        }

        func text() -> String {
            done.wait()
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Runs `waitroom <arguments>` with the gate's URL and admin key in the environment. The blocking
    /// reads and wait happen on a Dispatch thread, never on the test's cooperative threads.
    static func waitroom(_ arguments: [String], url: String, key: String = RunningGate.adminKey) async throws -> Run {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ["WAITROOM_ADMIN_URL": url, "WAITROOM_ADMIN_KEY": key, "PATH": "/usr/bin:/bin"]
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    try process.run()
                } catch {
                    return continuation.resume(throwing: error)
                }
                let out = Drain(stdout)
                let err = Drain(stderr)
                // Both pipes to their end first (the child has exited or closed them), then reap it.
                let (outText, errText) = (out.text(), err.text())
                process.waitUntilExit()
                continuation.resume(returning: Run(status: process.terminationStatus, stdout: outText, stderr: errText))
            }
        }
    }

    @Test("create, show --json, list, set, pause/resume/close/open, delete --yes")
    func lifecycle() async throws {
        let gate = try await RunningGate.start(redisURL: (try await TestRedisServer.shared()).url)
        let room = uniqueRoom("cli")
        func run(_ arguments: String...) async throws -> Run { try await Self.waitroom(arguments, url: gate.base) }

        let created = try await run("room", "create", room, "--rate", "5", "--checkout-url", "https://shop.example/checkout", "--capacity", "10")
        #expect(created.status == 0, "\(created)")
        #expect(created.stdout.contains("room:"), "\(created)")
        #expect(created.stdout.contains(room))

        let shown = try await run("room", "show", room, "--json")
        #expect(shown.status == 0, "\(shown)")
        #expect(shown.json["room"] as? String == room, "\(shown)")
        #expect(shown.settings["rate"] as? Double == 5)
        #expect(shown.settings["capacity"] as? Int == 10)
        #expect(shown.settings["checkoutUrl"] as? String == "https://shop.example/checkout")

        let readable = try await run("room", "show", room)
        #expect(readable.status == 0, "\(readable)")
        #expect(readable.stdout.split(separator: "\n").contains { $0.hasPrefix("rate:") && $0.hasSuffix(" 5") }, "\(readable)")

        let list = try await run("room", "list")
        #expect(list.status == 0, "\(list)")
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["ROOM", "STATE", "RATE", "CAPACITY", "WAITING", "HEAD", "TAIL", "ACTIVE", "OFFERS", "ADM/S"])
        let row = try #require(lines.first { $0.hasPrefix(room + " ") }, "\(list)").split(separator: " ")
        #expect(Array(row.prefix(4)) == [Substring(room), "open", "5", "10"], "\(list)")

        let listJSON = try await run("room", "list", "--json")
        let rooms = listJSON.json["rooms"] as? [[String: Any]] ?? []
        #expect(rooms.contains { $0["room"] as? String == room }, "\(listJSON)")

        let set = try await run("room", "set", room, "--rate", "12.5", "--no-capacity")
        #expect(set.status == 0, "\(set)")
        let afterSet = try await run("room", "show", room, "--json")
        #expect(afterSet.settings["rate"] as? Double == 12.5, "\(afterSet)")
        #expect(afterSet.settings["capacity"] is NSNull, "--no-capacity sends null: \(afterSet)")
        #expect(afterSet.settings["checkoutUrl"] as? String == "https://shop.example/checkout", "PATCH keeps the rest")

        for (action, state) in [("pause", "paused"), ("resume", "open"), ("close", "closed"), ("open", "open")] {
            let changed = try await run("room", action, room)
            #expect(changed.status == 0, "\(action): \(changed)")
            #expect(changed.stdout == "\(room): \(state)\n", "\(action): \(changed)")
        }

        // The report: a table with the totals, CSV with its header, and a clear refusal of a bad time.
        let table = try await run("room", "report", room)
        #expect(table.status == 0, "\(table)")
        #expect(table.stdout.contains("arrivals 0"), "\(table)")
        #expect(table.stdout.contains("TIME"), "\(table)")
        let csv = try await run("room", "report", room, "--format", "csv", "--step", "60")
        #expect(csv.stdout.hasPrefix("t,arrivals,offers,"), "\(csv)")
        let html = try await run("room", "report", room, "--format", "html")
        #expect(html.stdout.hasPrefix("<!doctype html>"), "\(html)")
        #expect(html.stdout.contains("<svg") && !html.stdout.contains("<script"), "self-contained, no script")
        let badTime = try await run("room", "report", room, "--from", "yesterday")
        #expect(badTime.status == 1, "\(badTime)")
        #expect(badTime.stderr.contains("from"), "\(badTime)")

        let refused = try await run("room", "delete", room)
        #expect(refused.status != 0, "\(refused)")
        #expect(refused.stderr.contains("--yes"), "\(refused)")
        #expect(try await run("room", "show", room).status == 0, "still there without --yes")

        let deleted = try await run("room", "delete", room, "--yes")
        #expect(deleted.status == 0, "\(deleted)")
        #expect(deleted.stdout == "deleted \(room)\n")
        let gone = try await run("room", "show", room)
        #expect(gone.status == 1, "\(gone)")
        #expect(gone.stderr.hasPrefix("error: "), "\(gone)")
        #expect(gone.stderr.contains("no such room"), "\(gone)")
    }

    @Test("a room with a hook and a join-pass secret (masked in views): every command exits 0 and prints the readable view, never a secret")
    func roomWithSecrets() async throws {
        let gate = try await RunningGate.start(redisURL: (try await TestRedisServer.shared()).url)
        defer { Task { await gate.stop() } }
        let room = uniqueRoom("cli")
        func run(_ arguments: String...) async throws -> Run { try await Self.waitroom(arguments, url: gate.base) }
        let (hookSecret, passSecret) = ("hook-secret-0123456789", "join-pass-secret-0123456789abcdef0123")
        let hooks = #"[{"url":"https://hooks.example/w","events":["room.paused","room.closed"],"secret":"\#(hookSecret)"}]"#

        /// The readable view: `key: value` lines, the secrets shown as set and never themselves.
        func expectReadable(_ run: Run, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(run.status == 0, "\(what): \(run)", sourceLocation: sourceLocation)
            #expect(run.stderr.isEmpty, "\(what): \(run)", sourceLocation: sourceLocation)
            let lines = run.stdout.split(separator: "\n")
            #expect(lines.first?.hasPrefix("room:") == true && lines.first?.hasSuffix(" \(room)") == true, "\(what): \(run)", sourceLocation: sourceLocation)
            #expect(!run.stdout.hasPrefix("{"), "\(what) prints the readable view, not JSON: \(run)", sourceLocation: sourceLocation)
            #expect(lines.contains { $0.hasPrefix("hooks:") && $0.contains("https://hooks.example/w") && $0.contains("(set)") }, "\(what): \(run)", sourceLocation: sourceLocation)
            #expect(lines.contains { $0.hasPrefix("join-pass-secret:") && $0.hasSuffix("(set)") }, "\(what): \(run)", sourceLocation: sourceLocation)
            #expect(!run.stdout.contains(hookSecret) && !run.stdout.contains(passSecret), "\(what): \(run)", sourceLocation: sourceLocation)
        }

        expectReadable(
            try await run("room", "create", room, "--rate", "5", "--checkout-url", "https://shop.example/checkout", "--hooks", hooks, "--join-pass-secret", passSecret),
            "create"
        )
        expectReadable(try await run("room", "show", room), "show")
        let set = try await run("room", "set", room, "--rate", "7")
        expectReadable(set, "set")
        #expect(set.stdout.split(separator: "\n").contains { $0.hasPrefix("rate:") && $0.hasSuffix(" 7") }, "\(set)")

        for (action, state) in [("pause", "paused"), ("resume", "open"), ("close", "closed"), ("open", "open")] {
            let changed = try await run("room", action, room)
            #expect(changed.status == 0, "\(action): \(changed)")
            #expect(changed.stdout == "\(room): \(state)\n", "\(action): \(changed)")
            #expect(changed.stderr.isEmpty, "\(action): \(changed)")
        }
        let list = try await run("room", "list")
        #expect(list.status == 0, "\(list)")
        #expect(list.stdout.split(separator: "\n").contains { $0.hasPrefix(room + " ") }, "\(list)")

        // --json stays the API's answer, for scripts.
        let json = try await run("room", "show", room, "--json")
        #expect(json.settings["joinPassSecret"] as? String == "(set)", "\(json)")
        #expect(((json.settings["hooks"] as? [[String: Any]])?.first?["secret"]) as? String == "(set)", "\(json)")
        #expect(try await run("room", "delete", room, "--yes").status == 0)
    }

    @Test("room set --rate below an old ramp's start rate: exit 0, and the view says the start rate was lowered")
    func setRateBelowRampStart() async throws {
        let gate = try await RunningGate.start(redisURL: (try await TestRedisServer.shared()).url)
        let room = uniqueRoom("cli")
        func run(_ arguments: String...) async throws -> Run { try await Self.waitroom(arguments, url: gate.base) }
        let created = try await run("room", "create", room, "--rate", "1", "--ramp-seconds", "1", "--ramp-start-rate", "0.2", "--checkout-url", "/checkout")
        let set = try await run("room", "set", room, "--rate", "0.1")
        _ = try await run("room", "delete", room, "--yes")
        await gate.stop()
        #expect(created.status == 0, "\(created)")
        #expect(set.status == 0 && set.stderr.isEmpty, "\(set)")
        let lines = set.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("ramp-start-rate:") && $0.hasSuffix(" 0.1") }, "\(set)")
        #expect(lines.contains("adjusted: rampStartRate 0.2 -> 0.1 (a ramp starts at or below rate)"), "\(set)")
    }

    @Test("serve started outside the repository (no Config/) says first that it runs on built-in defaults")
    func serveSaysItRunsOnDefaults() async throws {
        let server = try await TestRedisServer.shared()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("waitroom-noconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["serve"]
        process.currentDirectoryURL = directory
        process.environment = ["WAITROOM_REDIS_URL": server.url, "WAITROOM_HTTP_PORT": "\(try freePort())", "PATH": "/usr/bin:/bin"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let log = Locked("")
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            log.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
            output.fileHandleForReading.readabilityHandler = nil
        }
        try await waitUntil(timeout: .seconds(20)) { log.withLock { $0.contains("listening") } }
        let text = log.withLock { $0 }
        let said = try #require(text.split(separator: "\n").first { $0.contains("configuration file") }, "\(text)")
        #expect(said.contains("no configuration file") && said.contains("built-in defaults"), "\(said)")
        #expect(said.contains("no rooms file"), "\(said)")
        #expect(text.range(of: "built-in defaults")!.lowerBound < text.range(of: "listening")!.lowerBound, "said before it listens: \(text)")
    }

    @Test("wrong key, bad values, usage errors, conflicts and an unreachable gate fail non-zero with a clear message")
    func failures() async throws {
        let gate = try await RunningGate.start(redisURL: (try await TestRedisServer.shared()).url)
        let room = uniqueRoom("cli")
        func run(_ arguments: String..., key: String = RunningGate.adminKey) async throws -> Run {
            try await Self.waitroom(arguments, url: gate.base, key: key)
        }
        #expect(try await run("room", "create", room, "--rate", "5", "--checkout-url", "https://shop.example/checkout").status == 0)

        let wrongKey = try await run("room", "list", key: "not-the-admin-key-at-all")
        #expect(wrongKey.status == 1, "\(wrongKey)")
        #expect(wrongKey.stderr.contains("unauthorized") || wrongKey.stderr.contains("wrong key"), "\(wrongKey)")
        #expect(wrongKey.stdout.isEmpty)

        // The negative number reaches the API, whose 400 names the field.
        for arguments in [["room", "create", uniqueRoom("cli"), "--rate", "-1", "--checkout-url", "https://shop.example/checkout"], ["room", "set", room, "--rate", "-1"]] {
            let bad = try await Self.waitroom(arguments, url: gate.base)
            #expect(bad.status == 1, "\(arguments): \(bad)")
            #expect(bad.stderr.hasPrefix("error: rate"), "\(arguments): \(bad)")
        }

        #expect(try await run("room", "close", room).status == 0)
        let conflict = try await run("room", "pause", room)
        #expect(conflict.status == 1, "pausing a closed room is a 409: \(conflict)")
        #expect(conflict.stderr == "error: cannot pause a room that is closed\n", "\(conflict)")
        #expect(try await run("room", "open", room).stdout == "\(room): open\n")

        // Usage errors never reach the gate; ArgumentParser exits with EX_USAGE.
        for arguments in [["room", "set", room], ["room", "set", room, "--capacity", "3", "--no-capacity"], ["room", "show", "Not/A/Room"], ["room", "create", room, "--rate", "5"], ["room", "create", room, "--rate", "5", "--checkout-url", "/", "--opens-at", "tomorrow"]] {
            let usage = try await Self.waitroom(arguments, url: gate.base)
            #expect(usage.status == 64, "\(arguments): \(usage)")
            #expect(!usage.stderr.isEmpty, "\(arguments)")
        }
        let noKey = try await run("room", "list", key: "")
        #expect(noKey.status == 64, "\(noKey)")
        #expect(noKey.stderr.contains("WAITROOM_ADMIN_KEY"), "\(noKey)")

        let nowhere = "http://127.0.0.1:\(try freePort())"
        let started = ContinuousClock.now
        let unreachable = try await Self.waitroom(["room", "list"], url: nowhere)
        #expect(unreachable.status == 1, "\(unreachable)")
        #expect(unreachable.stderr.contains("cannot reach the admin API at \(nowhere)"), "\(unreachable)")
        #expect(unreachable.stderr.contains("refused"), "\(unreachable)")
        #expect(ContinuousClock.now - started < .seconds(5), "a refused connection fails at once, not after retries")

        // --url wins over the environment.
        let viaFlag = try await Self.waitroom(["room", "show", room, "--json", "--url", gate.base], url: nowhere)
        #expect(viaFlag.status == 0, "\(viaFlag)")
        #expect(viaFlag.json["room"] as? String == room)

        #expect(try await run("room", "delete", room, "--yes").status == 0)
    }
}
