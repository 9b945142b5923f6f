import Foundation
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer

@Suite("Drop report", .stopsGates)
struct ReportTests {
    @Test("through two gates: report totals equal what the shoppers and the order service did; CSV; bad queries are 400")
    func reportTotals() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("report")
        let a = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 50)])
        let b = try await RunningGate.start(redisURL: server.url)
        let service = RunningGate.serviceKey
        var tickets: [String] = []
        for index in 0..<12 {
            let gate = index.isMultiple(of: 2) ? a : b
            tickets.append(try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket")))
        }
        var tokens: [String] = []
        for ticket in tickets.prefix(6) {
            try await waitUntil(timeout: .seconds(5)) {
                try await HTTP.shared.call(.GET, b.base + "/v1/rooms/\(room)/status", bearer: ticket).string("token") != nil
            }
            tokens.append(try #require(try await HTTP.shared.call(.GET, b.base + "/v1/rooms/\(room)/status", bearer: ticket).string("token")))
        }
        for token in tokens.prefix(2) {
            #expect(try await HTTP.shared.call(.POST, a.base + "/v1/admissions/consume", bearer: service, body: #"{"token":"\#(token)"}"#).status == 200)
        }
        for token in tokens.prefix(3) {
            #expect(try await HTTP.shared.call(.POST, b.base + "/v1/admissions/release", bearer: service, body: #"{"token":"\#(token)"}"#).status == 204)
        }
        let path = "/admin/v1/rooms/\(room)/report"
        // Samples are written once a second: wait for one after the last release.
        func totals() async throws -> [String: Any] {
            try await HTTP.shared.call(.GET, a.base + path, bearer: RunningGate.adminKey).json["totals"] as? [String: Any] ?? [:]
        }
        try await waitUntil(timeout: .seconds(5)) {
            let totals = try await totals()
            return totals["releases"] as? Int == 3 && totals["consumed"] as? Int == 2
        }
        let totals = try await totals()
        #expect(totals["arrivals"] as? Int == 12)
        #expect(totals["claims"] as? Int == 6)
        #expect(totals["consumed"] as? Int == 2)
        #expect(totals["releases"] as? Int == 3)
        #expect(totals["offers"] as? Int == 12)
        let csv = try await HTTP.shared.call(.GET, b.base + path + ".csv", bearer: RunningGate.adminKey)
        #expect(csv.status == 200)
        #expect(csv.body.hasPrefix("t,arrivals,offers,claims,lapsed,releases,consumed,waiting,active,offerRate,showUp,state\n"))
        let arrivals = csv.body.split(separator: "\n").dropFirst().compactMap { Int($0.split(separator: ",")[1]) }.reduce(0, +)
        #expect(arrivals == 12)

        for query in ["?from=yesterday", "?step=0", "?step=1&from=0", "?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "?to=-5"] {
            let reply = try await HTTP.shared.call(.GET, a.base + path + query, bearer: RunningGate.adminKey)
            #expect(reply.status == 400, "\(query): \(reply.status)")
            #expect(reply.string("error") != nil)
        }
        #expect(try await HTTP.shared.call(.GET, a.base + path).status == 401)
        #expect(try await HTTP.shared.call(.GET, a.base + "/admin/v1/rooms/nope-\(room)/report", bearer: RunningGate.adminKey).status == 404)
    }
}
