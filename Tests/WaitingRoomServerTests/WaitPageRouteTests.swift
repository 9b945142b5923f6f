import Foundation
import Testing
import TestSupport
import WaitingRoomCore

/// `/wait/{room}` through a running gate: the page without JavaScript uses the API's own join and status.
@Suite("Waiting page routes", .stopsGates)
struct WaitPageRouteTests {
    private func cookie(_ reply: HTTP.Reply) -> String? {
        reply.headers["Set-Cookie"].first?.split(separator: ";").first.map(String.init)
    }

    /// The support id the page shows ("Queue ID 9f3a-21c4" → "9f3a-21c4").
    private func queueID(_ html: String) -> String? {
        guard let start = html.range(of: #"<span id="qid">"#), let end = html[start.upperBound...].range(of: "</span>") else { return nil }
        return html[start.upperBound..<end.lowerBound].split(separator: " ").last.map(String.init)
    }

    /// A form post as a browser sends it (raw: the test client would follow the redirect).
    private func post(_ port: Int, _ path: String, cookie: String, site: String) async throws -> String {
        try await blocking {
            let socket = try RawSocket(port: port)
            _ = socket.send("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: \(cookie)\r\nSec-Fetch-Site: \(site)\r\n"
                + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return socket.receiveAll().text
        }
    }

    private func header(_ name: String, in reply: String) -> String? {
        reply.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
            .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
    }

    @Test("without JavaScript: the first visit joins, a refresh keeps the place, join again is a new place at the back")
    func noScriptJourney() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("nojs")
        var held = settings(rate: 0)
        held.displayName = "Acme <Drops>"
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: held])

        let first = try await HTTP.shared.call(.GET, gate.base + "/wait/\(room)?js=0", headers: [("Accept-Language", "fr-FR,fr;q=0.9")])
        #expect(first.status == 200)
        let jar = try #require(cookie(first), "the page joins and sets the ticket cookie")
        let id = try #require(queueID(first.body))
        #expect(first.body.contains(#"<html lang="fr">"#))
        #expect(first.body.contains("<h1>Acme &lt;Drops&gt;</h1>"))
        #expect(first.body.contains("Vous êtes dans la file."))
        #expect(first.body.contains(#"<noscript><meta http-equiv="refresh" content=""#))

        let refreshed = try await HTTP.shared.call(.GET, gate.base + "/wait/\(room)?js=0", headers: [("Cookie", jar)])
        #expect(queueID(refreshed.body) == id, "a refresh keeps the place")
        #expect(cookie(refreshed) == nil)

        // A forged form post from another site must not cost the shopper their place.
        let forged = try await post(gate.port, "/wait/\(room)?js=0&again=1", cookie: jar, site: "cross-site")
        #expect(forged.hasPrefix("HTTP/1.1 403"), "\(forged)")

        let again = try await post(gate.port, "/wait/\(room)?js=0&again=1", cookie: jar, site: "same-origin")
        #expect(again.hasPrefix("HTTP/1.1 303"), "\(again)")
        let location = try #require(header("Location", in: again))
        #expect(location.hasPrefix("/wait/\(room)?js=0&rejoined="))
        let newJar = try #require(header("Set-Cookie", in: again)?.split(separator: ";").first.map(String.init))
        #expect(newJar != jar)
        let after = try await HTTP.shared.call(.GET, gate.base + location, headers: [("Cookie", newJar), ("Accept-Language", "fr")])
        #expect(queueID(after.body) != id)
        #expect(location.hasSuffix("rejoined=" + (queueID(after.body) ?? "?")), "the redirect names the new place")
        #expect(after.body.contains("1 personne devant vous"), "the old place is still ahead: the new one is at the back")
        #expect(after.body.contains(#"id="note" class="note">Vous avez une nouvelle place à la fin de la file."#), "as the JavaScript page says it")
        #expect(after.body.contains("rejoined=\(queueID(after.body) ?? "?")"), "and the refresh keeps saying it")
        // The notice belongs to that place: the old page's address says nothing for another ticket.
        let other = try await HTTP.shared.call(.GET, gate.base + location, headers: [("Cookie", jar), ("Accept-Language", "fr")])
        #expect(!other.body.contains(#"id="note" class="note">Vous avez une nouvelle place"#))
    }

    /// A "join again" form post with the given headers (no Sec-Fetch-Site unless given) and form body.
    private func postForm(_ port: Int, room: String, cookie: String, headers: [String], body: String = "") async throws -> String {
        try await blocking {
            let socket = try RawSocket(port: port)
            socket.send("POST /wait/\(room)?js=0&again=1 HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nCookie: \(cookie)\r\n" + headers.map { $0 + "\r\n" }.joined()
                + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body)
            return socket.receiveAll().text
        }
    }

    /// The "join again" form's token on a page.
    private func formToken(_ html: String) -> String? {
        guard let start = html.range(of: #"name="token" value=""#), let end = html[start.upperBound...].firstIndex(of: "\"") else { return nil }
        return String(html[start.upperBound..<end])
    }

    @Test("join again without Sec-Fetch-Site: a foreign or null Origin, or none, is refused; the page's token or this site's Origin works")
    func joinAgainWithoutFetchMetadata() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("again")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0)])
        let first = try await HTTP.shared.call(.GET, gate.base + "/wait/\(room)?js=0")
        let jar = try #require(cookie(first))
        let token = try #require(formToken(first.body), "the page's form carries a token")
        #expect(!token.isEmpty)
        let other = try await HTTP.shared.call(.GET, gate.base + "/wait/\(room)?js=0")
        let otherToken = try #require(formToken(other.body))

        for headers in [["Origin: https://evil.example"], ["Origin: null"], [], ["Referer: https://evil.example/page"], ["Origin: http://127.0.0.1:1"]] {
            let refused = try await postForm(gate.port, room: room, cookie: jar, headers: headers)
            #expect(refused.hasPrefix("HTTP/1.1 403"), "\(headers): \(refused)")
            #expect(refused.contains(#""error":"cross_site""#), "\(headers)")
            #expect(header("Set-Cookie", in: refused) == nil, "\(headers): a refused post takes no new place")
        }
        // Another shopper's token, or a token without the ticket cookie, is no token for this ticket.
        #expect(try await postForm(gate.port, room: room, cookie: jar, headers: ["Origin: null"], body: "token=\(otherToken)").hasPrefix("HTTP/1.1 403"))
        #expect(try await postForm(gate.port, room: room, cookie: "x=y", headers: ["Origin: null"], body: "token=\(token)").hasPrefix("HTTP/1.1 403"))
        #expect(queueID(try await HTTP.shared.call(.GET, gate.base + "/wait/\(room)?js=0", headers: [("Cookie", jar)]).body) == queueID(first.body))

        // The page's own post (Origin: null under its no-referrer policy) with its token: a new place.
        let viaToken = try await postForm(gate.port, room: room, cookie: jar, headers: ["Origin: null"], body: "token=\(token)")
        #expect(viaToken.hasPrefix("HTTP/1.1 303"), "\(viaToken)")
        #expect(header("Set-Cookie", in: viaToken) != nil)
        // This site's Origin works without a token.
        let viaOrigin = try await postForm(gate.port, room: room, cookie: jar, headers: ["Origin: http://127.0.0.1:\(gate.port)"])
        #expect(viaOrigin.hasPrefix("HTTP/1.1 303"), "\(viaOrigin)")
    }

    @Test("the JavaScript page carries its strings, the room's language wins, an unknown room is a translated 404")
    func pageAndNotFound() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("page")
        var fixed = settings(rate: 1)
        fixed.language = "ja"
        fixed.logoUrl = "https://cdn.example/logo.svg"
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: fixed])
        let page = try await HTTP.shared.call(.GET, gate.base + "/wait/\(room)", headers: [("Accept-Language", "de")])
        #expect(page.body.contains(#"<html lang="ja">"#))
        #expect(page.body.contains("待合室"))
        #expect(page.headers["Content-Security-Policy"].first?.contains("img-src 'self' data: https://cdn.example;") == true)
        #expect(page.headers["Set-Cookie"].isEmpty, "the page itself takes no place: its script joins")
        let missing = try await HTTP.shared.call(.GET, gate.base + "/wait/no-such-room", headers: [("Accept-Language", "es")])
        #expect(missing.status == 404)
        #expect(missing.body.contains("Esta sala de espera no existe."))
    }
}
