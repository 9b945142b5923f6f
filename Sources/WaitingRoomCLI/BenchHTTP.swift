import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import WaitingRoomCore

/// `waitroom bench http`: requests/s of a bare route, of status polls and of joins on the same server in one
/// run, and their ratios — how close the hot paths come to the framework's own limit on this machine.
/// The load comes from `wrk` (a C load generator), so the generator's cost is the same for every route.
struct BenchHTTP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "http", abstract: "Measure hello, status and join routes with wrk, and their ratios.")

    @Option(help: "Gate base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(name: .customLong("admin-key"), help: "Admin key (default $WAITROOM_ADMIN_KEY) (to create the benchmark room).")
    var adminKeyOption: String?

    /// The flag, else $WAITROOM_ADMIN_KEY.
    var adminKey: String? { adminKeyOption ?? ProcessInfo.processInfo.environment["WAITROOM_ADMIN_KEY"] }

    @Option(help: "Seconds per measurement.")
    var seconds = 8

    @Option(help: "Concurrent connections.")
    var connections = 64

    @Option(help: "wrk threads.")
    var threads = 1

    @Option(help: "Rounds (routes are interleaved; the median round is reported).")
    var rounds = 3

    func run() async throws {
        guard let adminKey else { throw ValidationError("--admin-key or WAITROOM_ADMIN_KEY is required") }
        let room = "bench-http"
        let limitedRoom = "bench-http-limited"
        // rate 0: polls stay on the waiting path (the one hundreds of thousands of shoppers hit). The join
        // limit is off in one room and at its default in the other: the same joins through both show its cost.
        let admin = AdminClient(baseURL: url, key: adminKey)
        var open = RoomSettings(rate: 0, checkoutUrl: "https://shop.example/checkout")
        open.joinsPerClientPerMinute = 0
        _ = try await admin.send(.PUT, "/admin/v1/rooms/\(room)", body: try SettingFlags.encode(open.json))
        _ = try await admin.send(
            .PUT, "/admin/v1/rooms/\(limitedRoom)", body: try SettingFlags.encode(RoomSettings(rate: 0, checkoutUrl: "https://shop.example/checkout").json)
        )
        try await Task.sleep(for: .milliseconds(300))
        let join = try await joinOnce("/v1/rooms/\(room)/join")
        guard let ticket = (try? JSONSerialization.jsonObject(with: Data(join.utf8)) as? [String: Any])?["ticket"] as? String else {
            throw ValidationError("join failed: \(join)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("waitroom-bench-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let statusScript = directory.appendingPathComponent("status.lua").path
        let joinScript = directory.appendingPathComponent("join.lua").path
        try #"wrk.headers["Authorization"] = "Bearer \#(ticket)""#.write(toFile: statusScript, atomically: true, encoding: .utf8)
        // Every join from an address of its own (X-Forwarded-For; the gate trusts loopback as a proxy), as a
        // crowd of shoppers would: no join is ever limited, so the limit's cost is the lookup and the table.
        try """
            wrk.method = "POST"
            local n = 0
            request = function()
              n = n + 1
              wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
              return wrk.format()
            end
            """.write(toFile: joinScript, atomically: true, encoding: .utf8)

        let routes: [(String, String, String?)] = [
            ("hello (GET /healthz)", "/healthz", nil),
            ("status poll", "/v1/rooms/\(room)/status", statusScript),
            ("join", "/v1/rooms/\(room)/join", joinScript),
            ("join, limit 60/min", "/v1/rooms/\(limitedRoom)/join", joinScript),
        ]
        var results: [String: [(rps: Double, p99: String)]] = [:]
        for round in 1...rounds {
            for (name, path, script) in routes {
                let result = try wrk(path: path, script: script)
                results[name, default: []].append(result)
                FileHandle.standardError.write(Data("round \(round) \(name): \(Int(result.rps)) req/s\n".utf8))
            }
        }
        func median(_ name: String) -> (rps: Double, p99: String) {
            let sorted = results[name, default: []].sorted { $0.rps < $1.rps }
            return sorted[sorted.count / 2]
        }
        let hello = median(routes[0].0).rps
        print("bench http: \(url), wrk \(threads) thread(s), \(connections) connections, \(seconds) s x \(rounds) rounds (median)")
        for (name, _, _) in routes {
            let result = median(name)
            print(String(format: "  %-22@ %9.0f req/s   p99 %8@   ratio to hello %.2f", name as NSString, result.rps, result.p99 as NSString, result.rps / hello))
        }
    }

    private func wrk(path: String, script: String?) throws -> (rps: Double, p99: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = ["wrk", "-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency"]
        if let script { arguments += ["-s", script] }
        process.arguments = arguments + [url + path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("wrk failed (is it installed? apt-get install wrk)") }
        if let line = text.split(separator: "\n").first(where: { $0.contains("Non-2xx") }) {
            throw ValidationError("\(path): \(line.trimmingCharacters(in: .whitespaces))")
        }
        let rps = text.split(separator: "\n").first { $0.hasPrefix("Requests/sec:") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        let p99 = text.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("99%") }
            .map { String($0.split(separator: " ").last ?? "?") } ?? "?"
        return (rps, p99)
    }

    /// One shopper's join, for the ticket the status measurement polls with.
    private func joinOnce(_ path: String) async throws -> String {
        var request = HTTPClientRequest(url: url + path)
        request.method = .POST
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return String(buffer: try await response.body.collect(upTo: 1 << 20))
    }
}
