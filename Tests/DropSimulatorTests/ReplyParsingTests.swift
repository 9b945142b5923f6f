// Reaches into internals (`@testable`): built and run on the debug build only.
#if DEBUG
import Testing
@testable import DropSimulator

/// The simulator reads a gate's answers on bytes, without a JSON library: each field as the gate writes it.
@Suite("Simulator: reading a gate's answers")
struct ReplyParsingTests {
    typealias Reply = DropSimulation.Reply

    @Test("join, status, board and proof-of-work answers: every field the shopper acts on, nulls as absent")
    func fields() {
        let join = Reply(status: 200, body: #"{"ticket":"v1.r.abc.42.1796.x.sig","state":"waiting","place":42,"position":41,"etaSeconds":{"low":12,"high":30},"onHold":false,"pollAfterMs":955}"#)
        #expect(join.ticket == "v1.r.abc.42.1796.x.sig" && join.state == "waiting")
        #expect(join.place == 42 && join.position == 41 && join.pollAfterMs == 955)
        #expect(join.eta?.low == 12 && join.eta?.high == 30)

        let admitted = Reply(status: 200, body: #"{"state":"admitted","place":7,"position":0,"etaSeconds":null,"pollAfterMs":0,"token":"eyJ.eyJ.sig","expiresAt":1796289544}"#)
        #expect(admitted.state == "admitted" && admitted.token == "eyJ.eyJ.sig" && admitted.eta == nil && admitted.pollAfterMs == 0)

        let entering = Reply(status: 200, body: #"{"state":"entering","place":8,"position":0,"etaSeconds":{"low":0,"high":2},"onHold":false,"pollAfterMs":1400,"token":"eyJ.eyJ.sig","checkoutUrl":"https://s/c","expiresAt":1796289544,"entersInMs":1350}"#)
        #expect(entering.state == "entering" && entering.token == "eyJ.eyJ.sig" && entering.entersInMs == 1_350)
        #expect(Reply(status: 200, body: #"{"state":"entering","pollAfterMs":3400,"entersInMs":9}"#).entersInMs == nil, "no moment to go at without a token")

        let board = Reply(status: 200, body: #"{"room":"r","state":"open","opensAtMs":null,"head":47823,"tail":89339,"readAfterMs":1500,"eta":[[0,0,7]],"lotteryKey":null}"#)
        #expect(board.state == "open" && board.head == 47823 && board.readAfterMs == 1500 && board.place == nil)

        let challenge = Reply(status: 428, body: #"{"error":"proof_of_work_required","challenge":"c-\u00e9-1","bits":18}"#)
        #expect(challenge.challenge == #"c-\u00e9-1"# && challenge.bits == 18)
        #expect(Reply(status: 200, body: #"{"challenge":"x","bits":3}"#).challenge == nil, "read only on a 428")

        let empty = Reply(status: 503, body: "")
        #expect(empty.state == nil && empty.place == nil && empty.eta == nil)
        #expect(Reply(status: 200, body: #"{"place":99999999999999999999999}"#).place == nil, "an overflowing number is no number")
        #expect(Reply(status: 200, body: #"{"state":"wait"#).state == nil, "an unterminated string is none")
        #expect(Reply(status: 200, body: #"{"displayName":"Café ☕","state":"paused"}"#).state == "paused")
    }
}
#endif
