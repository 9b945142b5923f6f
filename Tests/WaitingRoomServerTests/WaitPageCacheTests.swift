import Foundation
import Testing
import TestSupport
import WaitingRoomCore

/// The waiting page as a shared cache sees it: built once per room and language, the same bytes for every
/// shopper, `public`, no cookie; rebuilt when the room's settings change; an unknown room's page cached too.
@Suite("Waiting page: the same bytes for everyone", .stopsGates)
struct WaitPageCacheTests {
    /// A GET as a browser sends it, without following a redirect.
    private func raw(_ port: Int, _ path: String, headers: [String] = []) async throws -> String {
        try await blocking {
            let socket = try RawSocket(port: port)
            _ = socket.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers.map { $0 + "\r\n" }.joined() + "Connection: close\r\n\r\n")
            return socket.receiveAll().text
        }
    }

    private func header(_ name: String, in reply: String) -> String? {
        reply.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
            .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
    }

    @Test("one room and language: byte-identical for every shopper, public, an ETag and 304, no cookie, no Vary")
    func identical() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("same")
        var branded = settings(rate: 1)
        branded.displayName = "Acme"
        branded.logoUrl = "https://cdn.example/logo.svg"
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: branded])
        let url = gate.base + "/wait/\(room)/fr"
        let first = try await HTTP.shared.call(.GET, url, headers: [("Accept-Language", "de"), ("Cookie", "wr_\(room)=junk")])
        let second = try await HTTP.shared.call(.GET, url, headers: [("Accept-Language", "ja"), ("Authorization", "Bearer x")])
        let third = try await HTTP.shared.call(.GET, url)
        #expect(first.status == 200)
        #expect(first.body == second.body && second.body == third.body)
        #expect(first.body.contains(#"<html lang="fr">"#) && first.body.contains("<h1>Acme</h1>"))
        #expect(first.body.contains(#"content="0;url=/wait/\#(room)/fr?js=0""#), "without JavaScript, the page in the same language")
        #expect(first.headers["Cache-Control"].first?.hasPrefix("public, max-age=") == true)
        #expect(first.headers["Set-Cookie"].isEmpty)
        #expect(first.headers["Vary"].isEmpty)
        #expect(first.headers["Content-Security-Policy"].first?.contains("img-src 'self' data: https://cdn.example;") == true)
        let etag = try #require(first.headers["ETag"].first)
        #expect(second.headers["ETag"].first == etag)
        let revalidated = try await HTTP.shared.call(.GET, url, headers: [("If-None-Match", etag)])
        #expect(revalidated.status == 304 && revalidated.body.isEmpty)

        // The bare address: the room's language is not fixed, so a redirect by the shopper's header, kept
        // by that browser only; the query (a join pass) goes along.
        let bare = try await raw(gate.port, "/wait/\(room)?pass=abc", headers: ["Accept-Language: de-CH, fr;q=0.5"])
        #expect(bare.hasPrefix("HTTP/1.1 302"), "\(bare)")
        #expect(header("Location", in: bare) == "/wait/\(room)/de?pass=abc")
        #expect(header("Vary", in: bare) == "Accept-Language")
        #expect(header("Cache-Control", in: bare)?.hasPrefix("private") == true)
        // A language the page does not have: back to the bare address.
        let unknownLanguage = try await raw(gate.port, "/wait/\(room)/xx")
        #expect(header("Location", in: unknownLanguage) == "/wait/\(room)")
        // A join pass in the URL makes this shopper's own page (the pass rides on to the page without JavaScript).
        let withPass = try await HTTP.shared.call(.GET, url + "?pass=p.q")
        #expect(withPass.body.contains(#"url=/wait/\#(room)/fr?js=0&amp;pass=p.q""#))
        #expect(withPass.headers["Cache-Control"].first == "no-store")
    }

    @Test("a room whose language is fixed answers at its bare address, with no Vary")
    func fixedLanguage() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("fixed")
        var fixed = settings(rate: 1)
        fixed.language = "de"
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: fixed])
        let bare = try await HTTP.shared.call(.GET, gate.base + "/wait/\(room)", headers: [("Accept-Language", "ja")])
        let path = try await HTTP.shared.call(.GET, gate.base + "/wait/\(room)/de")
        #expect(bare.status == 200 && bare.body == path.body)
        #expect(bare.body.contains(#"<html lang="de">"#))
        #expect(bare.headers["Vary"].isEmpty)
        #expect(bare.headers["Cache-Control"].first?.hasPrefix("public") == true)
    }

    @Test("a settings change rebuilds the room's page")
    func settingsChange() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("change")
        var named = settings(rate: 1)
        named.displayName = "Before"
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: named])
        let url = gate.base + "/wait/\(room)/en"
        let before = try await HTTP.shared.call(.GET, url)
        #expect(before.body.contains("<h1>Before</h1>"))
        let patched = try await HTTP.shared.call(
            .PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: ##"{"displayName":"After","accentColor":"#ffeb3b"}"##
        )
        #expect(patched.status == 200)
        // The gate's copy of the room follows within a refresh or two.
        try await waitUntil(timeout: .seconds(10)) { (try? await HTTP.shared.call(.GET, url).body.contains("<h1>After</h1>")) == true }
        let after = try await HTTP.shared.call(.GET, url)
        #expect(after.body.contains("<h1>After</h1>"))
        #expect(after.body.contains("--acc:#ffeb3b;--on-acc:#1d2330;--acc-ink:#"))
        #expect(!after.body.contains("--on-acc:#1d2330;--acc-ink:#ffeb3b"), "a light accent gets a darker ink for the progress fill and the pulse")
        #expect(after.headers["ETag"].first != before.headers["ETag"].first)
        #expect(try await HTTP.shared.call(.GET, url).body == after.body)
    }

    @Test("an unknown room: a translated 404 page a cache may keep for a short time")
    func unknownRoom() async throws {
        let server = try await TestRedisServer.shared()
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [:])
        let missing = try await HTTP.shared.call(.GET, gate.base + "/wait/no-such-room/fr")
        #expect(missing.status == 404)
        #expect(missing.body.contains("Cette salle d'attente n'existe pas.") || missing.body.contains("Cette salle d&#39;attente n&#39;existe pas."))
        #expect(missing.headers["Cache-Control"].first?.hasPrefix("public, max-age=") == true)
        #expect(missing.headers["Set-Cookie"].isEmpty)
        #expect(try await HTTP.shared.call(.GET, gate.base + "/wait/other-missing/fr").body == missing.body)
        let bare = try await HTTP.shared.call(.GET, gate.base + "/wait/no-such-room", headers: [("Accept-Language", "es")])
        #expect(bare.status == 404 && bare.headers["Vary"].first == "Accept-Language")
    }
}
