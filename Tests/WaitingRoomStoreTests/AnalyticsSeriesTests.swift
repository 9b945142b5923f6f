import Foundation
import RedisClient
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomStore

/// The analytics series: samples of the room's cumulative counters written by the tick, on an injected clock.
@Suite("Analytics series", .serialized)
struct AnalyticsSeriesTests {
    @Test("report totals equal what happened; two gates ticking the same second count once; series stay bounded")
    func totalsAndBounds() async throws {
        let server = try await TestRedisServer.start()
        let store = RoomStore(redis: RedisClient(configuration: server.configuration))
        let room = "series"
        let start: Int64 = 1_800_000_000_000
        try await store.write(
            room: room, settings: RoomSettings(rate: 10, checkoutUrl: "/c"), mode: .createOrReplace,
            now: Date(timeIntervalSince1970: Double(start) / 1000), clockMs: start
        )
        guard case .placed(_, _, let epoch) = try await store.join(room: room, count: 5) else { throw TestSupportError("not placed") }
        _ = try await store.tick(rooms: [room], clockMs: start)
        // Two gates tick within the same second: one sample.
        _ = try await store.tick(rooms: [room], clockMs: start + 1_000)
        _ = try await store.tick(rooms: [room], clockMs: start + 1_400)
        var jtis: [String] = []
        for seq in 1...3 {
            let result = try await store.claim(
                room: room, ticketID: "t\(seq)", epoch: epoch, effectivePosition: Int64(seq), jti: "j\(seq)", waitedMs: Int64(seq) * 20_000,
                clockMs: start + 1_500
            )
            guard case .admitted(let admission, _) = result else { throw TestSupportError("claim \(seq): \(result)") }
            jtis.append(admission.jti)
        }
        #expect(try await store.consume(room: room, jti: jtis[0], ticketID: "t1", expiresAtMs: start + 600_000) == .consumed)
        #expect(try await store.release(room: room, jti: jtis[0], ticketID: "t1"))
        #expect(try await store.release(room: room, jti: jtis[1], ticketID: "t2"))
        _ = try await store.join(room: room, count: 2)
        _ = try await store.tick(rooms: [room], clockMs: start + 62_000)  // the next minute: a minute sample

        let seconds = try await store.series(room: room, .seconds, from: 0, to: start / 1000 + 3_600)
        #expect(seconds.samples.map(\.t) == [start / 1000, start / 1000 + 1, start / 1000 + 62], "one sample per second, whichever gate ticks")
        let minutes = try await store.series(room: room, .minutes, from: 0, to: start / 1000 + 3_600)
        let report = RoomReport(
            samples: seconds.samples, baseline: nil, from: start / 1000, to: start / 1000 + 3_600, step: 1,
            minuteSamples: minutes.samples, minuteBaseline: nil
        )
        #expect(report.totals.arrivals == 7)
        #expect(report.totals.claims == 3)
        #expect(report.totals.consumed == 1)
        #expect(report.totals.releases == 2)
        #expect(report.totals.offers == 7)  // rate 10/s over 60 s offers everyone
        #expect(report.totals.ordersPerAdmission == 1.0 / 3.0)
        // Waits of 20, 40 and 60 s fall in the 30, 60 and 120 s buckets.
        #expect(report.waitBuckets == [0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
        #expect(report.totals.waitP50Seconds == 60)
        #expect(report.series.map(\.arrivals).reduce(0, +) == 7)
        #expect(report.csv.split(separator: "\n").count == report.series.count + 1)

        // Bounded by time: ticks 1,000 s apart for six hours keep two hours of seconds.
        for step in 1...22 {
            _ = try await store.tick(rooms: [room], clockMs: start + 62_000 + Int64(step) * 1_000_000)
        }
        let kept = try await store.series(room: room, .seconds, from: 0, to: Int64.max / 2_000)
        #expect(kept.samples.count <= 8, "\(kept.samples.count) second samples kept")
        #expect(kept.samples.allSatisfy { $0.t > start / 1000 + 62 + 22_000 - 7_200 })
    }

    @Test("samples parse strictly", arguments: [
        "1|2|3|4|5|6|7|8|9|1.5|0.5|open", "1|2|3|4|5|6|7|8|9|1.5|0.5|open|0,0,0,0,0,0,0,0,0,0,1",
    ])
    func parses(line: String) {
        #expect(SeriesSample(line: line) != nil)
        #expect(SeriesSample(line: line + "|x") == nil)
        #expect(SeriesSample(line: "x" + line) == nil)
    }
}

@Suite("Room events from the tick", .serialized)
struct TickEventsTests {
    func events(_ redis: RedisClient, _ room: String) async throws -> [String] {
        let reply = try await redis.execute(["XRANGE", RedisArgument(RoomKeys(room: room).events), "-", "+"])
        return (reply.array ?? []).compactMap { entry -> String? in
            guard let fields = entry.array?.last?.array else { return nil }
            return fields.count >= 2 ? fields[1].string : nil
        }
    }

    @Test("opening soon at each lead (once), opened, queue above a threshold (once), queue drained, a minute aggregate")
    func tickEvents() async throws {
        let server = try await TestRedisServer.start()
        let redis = RedisClient(configuration: server.configuration)
        let store = RoomStore(redis: redis)
        let room = "events"
        let start: Int64 = 1_800_000_000_000
        var settings = RoomSettings(rate: 1, checkoutUrl: "/c", opensAt: Date(timeIntervalSince1970: Double(start + 600_000) / 1000))
        settings.hooks = [RoomHook(url: "https://ops.example/hook", events: ["room.opening_soon", "room.queue_above"], secret: "hook-secret-0123456789", leads: [300, 60], queueAbove: 2)]
        try await store.write(room: room, settings: settings, mode: .createOrReplace, now: Date(timeIntervalSince1970: Double(start) / 1000), clockMs: start)
        for offset: Int64 in [0, 301_000, 302_000, 541_000, 542_000] {
            _ = try await store.tick(rooms: [room], clockMs: start + offset)
        }
        let soon = try await events(redis, room).filter { $0 == "room.opening_soon" }
        #expect(soon.count == 2, "one per lead, each once")
        _ = try await store.join(room: room, count: 5)
        _ = try await store.tick(rooms: [room], clockMs: start + 601_000)  // opens: 5 waiting, above 2
        _ = try await store.tick(rooms: [room], clockMs: start + 601_500)
        var kinds = try await events(redis, room)
        #expect(kinds.filter { $0 == "room.opened" }.count == 1)
        #expect(kinds.filter { $0 == "room.queue_above" }.count == 1, "\(kinds)")
        // At 1/s the five are offered within a few seconds: the queue drains once.
        for second: Int64 in 2...8 { _ = try await store.tick(rooms: [room], clockMs: start + 600_000 + second * 1_000) }
        kinds = try await events(redis, room)
        #expect(kinds.filter { $0 == "room.queue_drained" }.count == 1, "\(kinds)")
        #expect(kinds.filter { $0 == "room.queue_above" }.count == 1)
        #expect(kinds.contains("room.minute"))
    }
}
