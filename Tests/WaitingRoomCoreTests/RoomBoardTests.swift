import Foundation
import TestSupport
import Testing
import WaitingRoomCore

/// The room board's model: what it says in each state, and knots from which a page's ETA stays as honest as a
/// status poll's.
@Suite("Room board: states and ETA knots")
struct RoomBoardTests {
    private func snapshot(
        state: RoomState = .open, head: Int64 = 0, tail: Int64, rate: Double, ramp: Int? = nil, openedAgoMs: Int64 = 0, showUp: Double = 1
    ) -> RoomSnapshot {
        let now: Int64 = 1_800_000_000_000
        var settings = RoomSettings(rate: rate, checkoutUrl: "/c", rampSeconds: ramp, rampStartRate: ramp == nil ? nil : rate / 10)
        settings.opensAt = state == .scheduled ? Date(timeIntervalSince1970: Double(now + 60_000) / 1000) : nil
        return RoomSnapshot(
            name: "drop", settings: settings, state: state, epoch: "e", tail: tail, head: head, lotteryKey: "ab",
            openedAtMs: now - openedAgoMs, showUpRatio: showUp, redisNowMs: now + 123
        )
    }

    @Test("knot positions start at 0, end at the back of the line, rise, and stay few", arguments: [0, 1, 2, 3, 4, 9, 10, 11, 100, 12_345, 10_000_000] as [Int64])
    func knotPositions(waiting: Int64) {
        let positions = RoomBoard.knotPositions(waiting: waiting)
        #expect(positions.first == 0)
        #expect(positions.last == max(0, waiting - 1))
        #expect(zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 })
        #expect(positions.count <= 4 + 6 * 8, "\(positions.count) knots for \(waiting)")
    }

    @Test("each state: open has knots; paused is on hold; scheduled names its opening and hides the lottery key; closed is empty")
    func states() {
        let open = RoomBoard(snapshot: snapshot(tail: 100, rate: 10), slotsFreeingPerSecond: nil, stale: false, readAfterMs: 2_000)
        #expect(!open.eta.isEmpty && !open.onHold && open.opensAtMs == nil)
        #expect(open.serverTimeMs % 1000 == 0, "whole seconds, so an unchanged room keeps its version")
        let held = RoomBoard(snapshot: snapshot(tail: 100, rate: 0), slotsFreeingPerSecond: nil, stale: false, readAfterMs: 2_000)
        #expect(held.eta.isEmpty && held.onHold)
        let paused = RoomBoard(snapshot: snapshot(state: .paused, tail: 100, rate: 10), slotsFreeingPerSecond: nil, stale: true, readAfterMs: 2_000)
        #expect(paused.eta.isEmpty && paused.onHold && paused.stale)
        let scheduled = RoomBoard(snapshot: snapshot(state: .scheduled, tail: 100, rate: 10), slotsFreeingPerSecond: nil, stale: false, readAfterMs: 2_000)
        #expect(scheduled.opensAtMs != nil && scheduled.lotteryKey == nil && scheduled.eta.isEmpty)
        let closed = RoomBoard(snapshot: snapshot(state: .closed, tail: 100, rate: 10), slotsFreeingPerSecond: nil, stale: false, readAfterMs: 2_000)
        #expect(closed.eta.isEmpty && !closed.onHold)
    }

    @Test("the read interval leaves time to claim within the claim window", arguments: [1, 2, 3, 5, 10, 60, 86_400])
    func readInterval(claimWindow: Int) {
        let interval = RoomBoard.readInterval(1_500, claimWindowSeconds: claimWindow)
        #expect(interval >= 500 && interval <= 1_500)
        if claimWindow >= 5 { #expect(1_000 + interval * 2 <= claimWindow * 1000, "a second-old board, a read interval, then a claim") }
    }

    /// A page's ETA from the knots against the ETA a status poll gives the same shopper, over random rooms
    /// (steady rate, ramps, show-up compensation, capacity bound): never narrower than the poll's by more than
    /// rounding, and at a steady rate the same to within a second.
    @Test("the page's interpolated ETA matches a status poll's", arguments: 0..<40 as Range<UInt64>)
    func interpolation(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let rate = [0.5, 3, 25, 150, 1_000][Int.random(in: 0..<5, using: &random)]
        let ramp: Int? = Bool.random(using: &random) ? Int.random(in: 30...600, using: &random) : nil
        let head = Int64.random(in: 0...5_000, using: &random)
        let tail = head + Int64.random(in: 1...2_000_000, using: &random)
        let room = snapshot(
            head: head, tail: tail, rate: rate, ramp: ramp, openedAgoMs: Int64.random(in: 0...120_000, using: &random),
            showUp: Double.random(in: 0.3...1, using: &random)
        )
        let board = RoomBoard(snapshot: room, slotsFreeingPerSecond: nil, stale: false, readAfterMs: 2_000)
        for _ in 0..<200 {
            let position = Int64.random(in: 0..<(tail - head), using: &random)
            let seq = head + position + 1
            guard case .waiting(let polled, let direct?, _, _) = ShopperStatus.decide(seq: seq, jitterSeed: 1, snapshot: room, nowMs: room.redisNowMs) else {
                Issue.record("expected waiting with an ETA")
                return
            }
            #expect(polled == position)
            // Waits past a week are capped at a week, which bends the line from the knot before it (knots are at
            // most 1.5× apart): no ETA there is worth reading.
            if Double(direct.low) >= Double(ETARange.around(expectedSeconds: 7 * 86_400).low) / 1.6 { continue }
            // The board's range ends a read interval and a cache's second later than a poll's (the page may
            // notice its turn that late); the rest is the same arithmetic.
            let page = try #require(board.eta(forPosition: position))
            let polledByBoard = direct.later(bySeconds: RoomBoard.lagSeconds(readAfterMs: 2_000))
            if ramp == nil {
                #expect(abs(page.low - polledByBoard.low) <= 1 && abs(page.high - polledByBoard.high) <= 1, "\(page) vs \(polledByBoard) at \(position)")
            } else {
                // Along a ramp the wait bends; knots 1.5× apart keep the page within a few percent.
                let slack = Int(Double(polledByBoard.high) * 0.08) + 2
                #expect(abs(page.low - polledByBoard.low) <= slack && abs(page.high - polledByBoard.high) <= slack, "\(page) vs \(polledByBoard) at \(position)")
            }
        }
    }
}
