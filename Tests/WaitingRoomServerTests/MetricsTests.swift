import Foundation
import TestSupport
import Testing
import WaitingRoomServer

@Suite("Metrics", .stopsGates)
struct MetricsTests {
    /// Every line is a comment or `name{labels} value` (Prometheus text format 0.0.4).
    static func parse(_ text: String) throws -> [String: Double] {
        var samples: [String: Double] = [:]
        let pattern = try Regex(#"^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?) (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$"#)
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let match = try pattern.wholeMatch(in: String(line)), let name = match.output[1].substring, let value = match.output[3].substring else {
                throw TestSupportError("not Prometheus text: \(line)")
            }
            samples[String(name)] = Double(value)
        }
        return samples
    }

    @Test("/metrics parses as Prometheus text and its counters move")
    func countersMove() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("metrics")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 100)])
        let before = try Self.parse(try await HTTP.shared.call(.GET, gate.base + "/metrics").body)
        let ticket = try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))
        try await waitUntil(timeout: .seconds(3)) {
            try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket).string("state") == "admitted"
        }
        // Room figures arrive with the next cache refresh.
        var after: [String: Double] = [:]
        try await waitUntil(timeout: .seconds(5)) {
            after = try Self.parse(try await HTTP.shared.call(.GET, gate.base + "/metrics").body)
            return after["waitroom_room_claims{room=\"\(room)\"}"] == 1
        }
        #expect(after["waitroom_joins_total"] == (before["waitroom_joins_total"] ?? 0) + 1)
        #expect(after["waitroom_claims_total"] == (before["waitroom_claims_total"] ?? 0) + 1)
        #expect(after["waitroom_room_claims{room=\"\(room)\"}"] == 1)
        #expect(after["waitroom_room_tail{room=\"\(room)\"}"] == 1)
        #expect((after["waitroom_status_duration_seconds_count"] ?? 0) >= 1)
        #expect((after["waitroom_cache_refreshes_total"] ?? 0) > (before["waitroom_cache_refreshes_total"] ?? 0))
    }
}
