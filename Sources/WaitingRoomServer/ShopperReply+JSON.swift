import WaitingRoomCore
import WaitingRoomTokens

extension ShopperReply {
    /// The API's answer, written by hand (join and status are the hot paths); `ShopperReplyJSONTests` holds it
    /// to a `Codable` twin for every case.
    var json: String {
        let ticketJSON = ticket.map { #""ticket":"\#(JSONText.escape($0))","# } ?? ""
        let placeJSON = place.map(String.init) ?? "null"
        let staleJSON = (stale ? #","stale":true"# : "") + (lottery.map(Self.lotteryFields) ?? "")
        let head = #"{\#(ticketJSON)"state":"\#(answer.state)","place":\#(placeJSON),"#
        switch answer {
        case .waiting(let position, let eta, let onHold, let poll):
            return head + Self.fields(position: position, eta: eta, onHold: onHold, pollAfterMs: poll) + staleJSON + "}"
        case .paused(let position, let poll):
            return head + Self.fields(position: position, eta: nil, onHold: true, pollAfterMs: poll) + staleJSON + "}"
        case .scheduled(let opensIn, let poll):
            return head + Self.fields(position: nil, eta: nil, onHold: false, pollAfterMs: poll) + #","opensInSeconds":\#(opensIn)"# + staleJSON + "}"
        case .closed:
            return head + Self.fields(position: nil, eta: nil, onHold: false, pollAfterMs: 0) + staleJSON + "}"
        case .entering(let eta, let poll, let early):
            let earlyJSON = early.map {
                "," + Self.admission(token: $0.token, checkoutUrl: $0.checkoutUrl, expiresAt: $0.expiresAt) + #","entersInMs":\#($0.entersInMs)"#
            }
            return head + Self.fields(position: 0, eta: eta, onHold: false, pollAfterMs: poll) + (earlyJSON ?? "") + staleJSON + "}"
        case .admitted(let token, let checkoutUrl, let expiresAt):
            return head + #""position":0,"etaSeconds":null,"pollAfterMs":0,"# + Self.admission(token: token, checkoutUrl: checkoutUrl, expiresAt: expiresAt)
                + staleJSON + "}"
        case .done(let end):
            return head + #""reason":"\#(end.rawValue)","position":null,"etaSeconds":null,"pollAfterMs":0"# + staleJSON + "}"
        case .expired:
            return head + #""position":null,"etaSeconds":null,"pollAfterMs":0"# + staleJSON + "}"
        }
    }

    /// Only in a room with a draw (most answers have none: nothing is added to the hot path).
    private static func lotteryFields(_ lottery: Lottery) -> String {
        func text(_ value: String?) -> String { value.map { #""\#(JSONText.escape($0))""# } ?? "null" }
        return #","lotteryCommitment":\#(text(lottery.commitment)),"lotteryKey":\#(text(lottery.key)),"prequeueNumber":\#(lottery.prequeueNumber.map(String.init) ?? "null")"#
    }

    private static func admission(token: String, checkoutUrl: String, expiresAt: Int64) -> String {
        #""token":"\#(token)","checkoutUrl":"\#(JSONText.escape(checkoutUrl))","expiresAt":\#(expiresAt)"#
    }

    private static func fields(position: Int64?, eta: ETARange?, onHold: Bool, pollAfterMs: Int) -> String {
        let positionJSON = position.map(String.init) ?? "null"
        let etaJSON = eta.map { #"{"low":\#($0.low),"high":\#($0.high)}"# } ?? "null"
        return #""position":\#(positionJSON),"etaSeconds":\#(etaJSON),"onHold":\#(onHold),"pollAfterMs":\#(pollAfterMs)"#
    }
}
