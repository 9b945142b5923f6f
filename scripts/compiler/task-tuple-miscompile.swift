// The Swift 6.3.1 release-build miscompile behind issue 19's crash (ClusterRouter.sendEach).
//
// Inside a closure run as a task (`Task {}`, `group.addTask {}`), `return (value, .success(try await f()))`
// from a `do` block loses `value` — evaluated before the suspension — when `f` hops to an actor picked at run
// time: with -O it comes back as 0. Debug builds (-Onone) print 7 on every line; an affected optimizing
// compiler prints 0 on the first. scripts/compiler/check.sh runs it.
enum Failure: Error { case failed(String) }
actor Node { func submit(_ n: Int) async -> Result<[Int], Failure> { .success([n]) } }
let nodes = [Node(), Node(), Node()]
func ask(_ n: Int) async throws(Failure) -> [Int] { try await nodes[n % 3].submit(n).get() }
func askResult(_ n: Int) async -> Result<[Int], Failure> { await nodes[n % 3].submit(n) }

@main struct Reproduction {
    static func main() async {
        let affected = Task { () async -> (Int, Result<[Int], Failure>) in
            let value = 7
            do throws(Failure) { return (value, .success(try await ask(1))) } catch { return (value, .failure(error)) }
        }
        // The shape the router uses now: the child returns a Result from a call that cannot throw.
        let workaround = Task { () async -> (Int, Result<[Int], Failure>) in
            let value = 7
            return (value, await askResult(1))
        }
        print("return (value, try await …) inside do, in a Task: \(await affected.value.0)")
        print("return (value, await …) without do/catch, in a Task: \(await workaround.value.0)")
    }
}
