// Reaches into internals (`@testable`): built and run on the debug build only. The release build runs the
// suites that see the modules as shipped (`make test-release`).
#if DEBUG
import Foundation
import RedisClient
import TestSupport
import Testing
import WaitingRoomCore
@testable import WaitingRoomStore

/// The claim and upsert scripts with settings that used to break them (issue 20), on Redis with an injected
/// clock; ``AdmissionCrossCheckTests`` holds the same rules to the model.
@Suite("Admission limits in Redis", .serialized)
struct AdmissionLimitsStoreTests {
    static let start: Int64 = 1_800_000_000_000

    /// A new open room with `shoppers` offered at `start + 1 s`; returns its name and epoch.
    static func offeredRoom(_ store: RoomStore, _ settings: RoomSettings, shoppers: Int) async throws -> (room: String, epoch: String) {
        let room = "lim-\(UUID().uuidString.prefix(8).lowercased())"
        try await store.write(room: room, settings: settings, mode: .createOrReplace, now: Date(timeIntervalSince1970: Double(start) / 1000), clockMs: start)
        _ = try await store.join(room: room, count: shoppers)
        _ = try await store.tick(rooms: [room], clockMs: start + 1_000)
        let epoch = try #require(try await store.redis.hgetall(RoomKeys(room: room).state)["epoch"])
        return (room, epoch)
    }

    @Test("one ticket, one admission: a session shorter than the claim window does not make the place claimable again")
    func oneAdmissionPerTicket() async throws {
        let server = try await TestRedisServer.shared()
        let store = RoomStore(redis: RedisClient(configuration: server.configuration))
        let settings = RoomSettings(rate: 100, claimWindowSeconds: 60, sessionTTLSeconds: 2, checkoutUrl: "/checkout")
        let (room, epoch) = try await Self.offeredRoom(store, settings, shoppers: 3)
        let first = try await store.claim(room: room, ticketID: "t", epoch: epoch, effectivePosition: 1, jti: "j1", clockMs: Self.start + 1_000)
        #expect(first == .admitted(Admission(jti: "j1", entersAtMs: Self.start + 1_000, expiresAtMs: Self.start + 3_000), redisNowMs: Self.start + 1_000))
        // The record outlives the session: it is kept as long as the ticket could be shown.
        let ttl = try await store.redis.execute(["PTTL", RedisArgument(RoomKeys(room: room).admission(ticketID: "t"))]).int ?? 0
        #expect(ttl > RoomStore.ticketLifetimeMs - 60_000, "PTTL \(ttl)")
        // Polls inside the claim window after the session ended: done, never a second admission.
        for (index, at) in [Self.start + 3_000, Self.start + 4_000, Self.start + 60_000].enumerated() {
            let again = try await store.claim(room: room, ticketID: "t", epoch: epoch, effectivePosition: 1, jti: "j\(index + 2)", clockMs: at)
            #expect(again == .done(.expired), "at +\(at - Self.start) ms")
        }
        let fields = try await store.redis.hgetall(RoomKeys(room: room).state)
        #expect(fields["claims"] == "1")
        _ = try await store.delete(room: room)
    }

    @Test("a rate too small to carry (written around the API) neither fails a claim nor poisons the room")
    func tinyRate() async throws {
        let server = try await TestRedisServer.shared()
        let store = RoomStore(redis: RedisClient(configuration: server.configuration))
        var settings = RoomSettings(rate: 100, claimWindowSeconds: 60, sessionTTLSeconds: 600, checkoutUrl: "/checkout")
        let (room, epoch) = try await Self.offeredRoom(store, settings, shoppers: 8)
        let now = Self.start + 1_000
        settings.rate = 1e-17
        try await store.write(room: room, settings: settings, mode: .update, clockMs: now)
        for ticket in 1...3 {
            let claim = try await store.claim(room: room, ticketID: "t\(ticket)", epoch: epoch, effectivePosition: Int64(ticket), jti: "j\(ticket)", clockMs: now)
            guard case .admitted(let admission, _) = claim else { Issue.record("\(claim)"); continue }
            #expect(Double(admission.entersAtMs) <= Double(now) + AdmissionModel.entryHorizonMs)
        }
        // Back to a real rate: the schedule re-spaces at once, and the next shoppers enter now.
        settings.rate = 1_000
        try await store.write(room: room, settings: settings, mode: .update, clockMs: now)
        for ticket in 4...8 {
            let claim = try await store.claim(room: room, ticketID: "t\(ticket)", epoch: epoch, effectivePosition: Int64(ticket), jti: "j\(ticket)", clockMs: now)
            guard case .admitted(let admission, _) = claim else { Issue.record("\(claim)"); continue }
            #expect(admission.entersAtMs == now, "t\(ticket)")
        }
        // A schedule poisoned before these limits (as the issue found it) is brought back within the horizon.
        let keys = RoomKeys(room: room)
        try await store.redis.execute(["HSET", RedisArgument(keys.state), "entryTatMs", "100000000000000000000.000"])
        _ = try await store.join(room: room, count: 1)
        _ = try await store.tick(rooms: [room], clockMs: now + 1_000)
        let healed = try await store.claim(room: room, ticketID: "t9", epoch: epoch, effectivePosition: 9, jti: "j9", clockMs: now + 1_000)
        guard case .admitted(let admission, _) = healed else { Issue.record("\(healed)"); return }
        #expect(Double(admission.entersAtMs) <= Double(now + 1_000) + AdmissionModel.entryHorizonMs)
        _ = try await store.delete(room: room)
    }

    @Test("20 entries reserved at 0.1/s, then 100/s: the next shopper enters at once, not in 199 s")
    func fasterRateReachesTheSchedule() async throws {
        let server = try await TestRedisServer.shared()
        let store = RoomStore(redis: RedisClient(configuration: server.configuration))
        var settings = RoomSettings(rate: 100, claimWindowSeconds: 600, sessionTTLSeconds: 600, checkoutUrl: "/checkout")
        let (room, epoch) = try await Self.offeredRoom(store, settings, shoppers: 21)
        let now = Self.start + 1_000
        settings.rate = 0.1
        try await store.write(room: room, settings: settings, mode: .update, clockMs: now)
        var last: Admission?
        for ticket in 1...20 {
            let claim = try await store.claim(room: room, ticketID: "t\(ticket)", epoch: epoch, effectivePosition: Int64(ticket), jti: "j\(ticket)", clockMs: now)
            if case .admitted(let admission, _) = claim { last = admission }
        }
        #expect(last?.entersAtMs == now + 190_000 - 500, "the 20th of 20 at 0.1/s")
        settings.rate = 100
        try await store.write(room: room, settings: settings, mode: .update, clockMs: now)
        let next = try await store.claim(room: room, ticketID: "t21", epoch: epoch, effectivePosition: 21, jti: "j21", clockMs: now)
        #expect(next == .admitted(Admission(jti: "j21", entersAtMs: now, expiresAtMs: now + 600_000), redisNowMs: now))
        // The 20th, reserved for +189.5 s at the old rate, is brought forward to the new schedule when it polls.
        let reserved = try await store.claim(room: room, ticketID: "t20", epoch: epoch, effectivePosition: 20, jti: "j99", clockMs: now + 100)
        #expect(reserved == .admitted(Admission(jti: "j20", entersAtMs: now + 210, expiresAtMs: now + 210 + 600_000), redisNowMs: now + 100))
        let score = try await store.redis.execute(["ZSCORE", RedisArgument(RoomKeys(room: room).active), "j20"]).string
        #expect(score == String(now + 210 + 600_000))
        _ = try await store.delete(room: room)
    }
}
#endif
