// Reaches into internals (`@testable`): built and run on the debug build only. The release build runs the
// suites that see the modules as shipped (`make test-release`).
#if DEBUG
import Foundation
import Testing
import WaitingRoomCore
import WaitingRoomStore
@testable import WaitingRoomServer

/// The join and status answers are written by hand (hot paths); a `Codable` twin, written from the API's
/// documentation, must read the same JSON for every answer.
@Suite("Shopper answers: the hand-written JSON and its Codable twin agree")
struct ShopperReplyJSONTests {
    /// The API's answer as documented, every field by name.
    struct Twin: Codable, Equatable {
        struct ETA: Codable, Equatable {
            var low: Int
            var high: Int
        }
        var ticket: String?
        var state: String
        var place: Int64?
        var reason: String?
        var position: Int64?
        var etaSeconds: ETA?
        var onHold: Bool?
        var pollAfterMs: Int
        var opensInSeconds: Int?
        var token: String?
        var checkoutUrl: String?
        var expiresAt: Int64?
        var entersInMs: Int64?
        var stale: Bool?
        var lotteryCommitment: String?
        var lotteryKey: String?
        var prequeueNumber: Int64?
    }

    static let replies: [ShopperReply] = [
        ShopperReply(answer: .waiting(position: 41, eta: ETARange(low: 10, high: 20), onHold: false, pollAfterMs: 3_300), place: 142),
        ShopperReply(answer: .waiting(position: 0, eta: nil, onHold: true, pollAfterMs: 5_000), place: 7, stale: true),
        ShopperReply(answer: .paused(position: 3, pollAfterMs: 5_000), place: 9, ticket: "t.k"),
        ShopperReply(answer: .scheduled(opensInSeconds: 61, pollAfterMs: 30_000), place: nil, ticket: "t\"k", lottery: .init(commitment: "ab12", key: nil, prequeueNumber: 40)),
        ShopperReply(answer: .waiting(position: 2, eta: nil, onHold: true, pollAfterMs: 5_000), place: 9, lottery: .init(commitment: "ab12", key: "cd34", prequeueNumber: 4)),
        ShopperReply(answer: .closed, place: 12, stale: true),
        ShopperReply(answer: .entering(eta: ETARange(low: 0, high: 4), pollAfterMs: 3_400, early: nil), place: 3),
        ShopperReply(
            answer: .entering(
                eta: ETARange(low: 0, high: 2), pollAfterMs: 1_400,
                early: EarlyEntry(token: "a.b.c", checkoutUrl: "https://shop.example/c?x=\"1\"", expiresAt: 1_800_000_000, entersInMs: 1_350)
            ),
            place: 3, stale: true
        ),
        ShopperReply(answer: .admitted(token: "a.b.c", checkoutUrl: "https://shop.example/c?x=\"1\"", expiresAt: 1_800_000_000), place: 3),
        ShopperReply(answer: .done(.consumed), place: 3),
        ShopperReply(answer: .expired, place: 3),
    ]

    /// The twin of a reply, from the documented meaning of each field.
    static func twin(_ reply: ShopperReply) -> Twin {
        var twin = Twin(ticket: reply.ticket, state: reply.answer.state, place: reply.place, pollAfterMs: 0, stale: reply.stale ? true : nil)
        (twin.lotteryCommitment, twin.lotteryKey, twin.prequeueNumber) = (reply.lottery?.commitment, reply.lottery?.key, reply.lottery?.prequeueNumber)
        switch reply.answer {
        case .waiting(let position, let eta, let onHold, let poll):
            (twin.position, twin.onHold, twin.pollAfterMs) = (position, onHold, poll)
            twin.etaSeconds = eta.map { Twin.ETA(low: $0.low, high: $0.high) }
        case .paused(let position, let poll):
            (twin.position, twin.onHold, twin.pollAfterMs) = (position, true, poll)
        case .scheduled(let opensIn, let poll):
            (twin.onHold, twin.pollAfterMs, twin.opensInSeconds) = (false, poll, opensIn)
        case .closed:
            twin.onHold = false
        case .entering(let eta, let poll, let early):
            (twin.position, twin.onHold, twin.pollAfterMs) = (0, false, poll)
            twin.etaSeconds = Twin.ETA(low: eta.low, high: eta.high)
            (twin.token, twin.checkoutUrl, twin.expiresAt, twin.entersInMs) = (early?.token, early?.checkoutUrl, early?.expiresAt, early?.entersInMs)
        case .admitted(let token, let url, let expiresAt):
            (twin.position, twin.token, twin.checkoutUrl, twin.expiresAt) = (0, token, url, expiresAt)
        case .done(let end):
            twin.reason = end.rawValue
        case .expired:
            break
        }
        return twin
    }

    @Test("every answer decodes to its twin, and names exactly the twin's fields", arguments: replies)
    func agree(reply: ShopperReply) throws {
        let json = Data(reply.json.utf8)
        #expect(try JSONDecoder().decode(Twin.self, from: json) == Self.twin(reply), "\(reply.json)")
        let written = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let twinKeys = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(Self.twin(reply))) as? [String: Any])
        // The twin drops nil fields; the answer writes some of them as null (position, etaSeconds, place).
        let nonNull = Set(written.filter { !($0.value is NSNull) }.keys)
        #expect(nonNull == Set(twinKeys.keys), "\(reply.json)")
    }
}
#endif
