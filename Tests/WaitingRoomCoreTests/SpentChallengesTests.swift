import Testing
import WaitingRoomCore

@Suite("Spent proof-of-work challenges")
struct SpentChallengesTests {
    @Test("a challenge is spent once until it expires")
    func singleUse() {
        var spent = SpentChallenges(capacity: 10)
        #expect(spend(&spent, "a", expiresAtMs: 1_000, nowMs: 0) == true)
        #expect(spend(&spent, "a", expiresAtMs: 1_000, nowMs: 500) == false)
        #expect(spend(&spent, "b", expiresAtMs: 1_000, nowMs: 500) == true)
    }

    @Test("memory is bounded: expired entries make room, a set full of live ones refuses")
    func bounded() {
        var spent = SpentChallenges(capacity: 3)
        for id in ["a", "b", "c"] { #expect(spend(&spent, id, expiresAtMs: 1_000, nowMs: 0) == true) }
        #expect(spend(&spent, "d", expiresAtMs: 1_000, nowMs: 10) == false)
        #expect(spend(&spent, "d", expiresAtMs: 3_000, nowMs: 2_000) == true)
        #expect(spent.count == 1)
    }

    private func spend(_ spent: inout SpentChallenges, _ id: String, expiresAtMs: Int64, nowMs: Int64) -> Bool {
        spent.spend(id, expiresAtMs: expiresAtMs, nowMs: nowMs)
    }
}
