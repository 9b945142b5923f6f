import ArgumentParser
import Foundation
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomTokens

/// `waitroom room lottery ROOM [--verify] [--all]`: the room's draw as anyone can check it — the commitment
/// before opening; after it, every place recomputed from the revealed key (and beacon), the key held to the
/// commitment, and the gate's own first places compared.
struct LotteryRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lottery",
        abstract: "Show the room's sealed draw; with --verify, recompute every place and check the commitment.",
        discussion: "Exit codes: 0 verified (or shown), 1 API error or a check that failed, 64 usage error."
    )

    @OptionGroup var room: RoomArgument
    @OptionGroup var admin: AdminOptions
    @Flag(help: "Recompute every drawn place from the revealed key and beacon and check the commitment (fails before opening).")
    var verify = false
    @Flag(help: "Print every pre-queue number's drawn place (`seq place` per line).")
    var all = false

    func run() async throws {
        var failed = false
        try await AdminError.reporting {
            let reply = try await admin.client().send(.GET, room.path)
            let view = try RoomOutput.decode(RoomView.self, reply.body)
            let (lines, ok) = Self.check(view, verify: verify)
            lines.forEach { print($0) }
            failed = !ok
            if all, let lottery = view.lottery, let key = lottery.key, let permutation = LotteryPermutation(
                size: UInt64(lottery.prequeue), key: LotterySeal.drawKey(key: key, beacon: lottery.beacon)
            ), lottery.prequeue > 0 {
                for seq in 1...UInt64(lottery.prequeue) { print("\(seq) \(permutation.permute(seq - 1) + 1)") }
            }
        }
        if failed { throw ExitCode.failure }
    }

    /// The report lines and whether every check passed (pure: tested without a gate).
    static func check(_ view: RoomView, verify: Bool) -> (lines: [String], ok: Bool) {
        guard let lottery = view.lottery, let commitment = lottery.commitment ?? lottery.key.map(LotterySeal.commitment(ofKey:)) else {
            return (["room \(view.room): no draw (the room never had an opening time)"] + (verify ? ["FAIL: nothing to verify"] : []), !verify)
        }
        var lines = ["room:        \(view.room) (\(view.settings.state))", "commitment:  \(commitment)"]
        if let source = lottery.beaconSource { lines.append("beacon from: \(source)") }
        guard let key = lottery.key else {
            lines.append("key:         sealed until opening")
            if verify { lines.append("FAIL: the draw is not revealed yet (the room has not opened)") }
            return (lines, !verify)
        }
        let drawKey = LotterySeal.drawKey(key: key, beacon: lottery.beacon)
        lines += ["key:         \(key)", "beacon:      \(lottery.beacon ?? "(none)")", "draw key:    \(drawKey)", "pre-queue:   \(lottery.prequeue)"]
        guard verify else { return (lines, true) }
        var ok = true
        if lottery.commitment == nil {
            lines.append("WARN: no commitment was published for this draw (the room was scheduled before draws were sealed)")
        } else if LotterySeal.opens(commitment, with: key) {
            lines.append("PASS: sha256(key) matches the commitment published before opening")
        } else {
            lines.append("FAIL: sha256(key) = \(LotterySeal.commitment(ofKey: key)) does not match the commitment \(commitment)")
            ok = false
        }
        if lottery.beaconSource != nil && lottery.beacon == nil {
            lines.append("WARN: a beacon source was named but no beacon was entered before opening: the draw used the key alone")
        }
        guard let permutation = LotteryPermutation(size: UInt64(max(lottery.prequeue, 0)), key: drawKey) else {
            return (lines + ["FAIL: the key is not 32 hex digits"], false)
        }
        // Every place, once: the draw is a permutation of 1...prequeue.
        var seen = [Bool](repeating: false, count: Int(lottery.prequeue))
        var bijection = true
        for index in 0..<UInt64(lottery.prequeue) {
            let place = Int(permutation.permute(index))
            if place >= seen.count || seen[place] { bijection = false; break }
            seen[place] = true
        }
        lines.append(bijection ? "PASS: all \(lottery.prequeue) places recomputed, each drawn exactly once" : "FAIL: the recomputed places are not a permutation")
        ok = ok && bijection
        let recomputed = (0..<UInt64(lottery.firstPlaces.count)).map { Int64(permutation.permute($0)) + 1 }
        if recomputed == lottery.firstPlaces {
            lines.append("PASS: the gate's first places agree: \(recomputed.map(String.init).joined(separator: ", "))")
        } else {
            lines.append("FAIL: the gate says \(lottery.firstPlaces), recomputed \(recomputed)")
            ok = false
        }
        lines.append(ok ? "VERIFIED" : "NOT VERIFIED")
        return (lines, ok)
    }
}
