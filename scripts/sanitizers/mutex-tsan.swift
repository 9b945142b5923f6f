// Why the thread sanitizer reports races inside `Mutex.withLock` on Linux (issue 19's sanitizer runs).
//
// Two threads add 1 to a counter 200,000 times each, under Synchronization's `Mutex` (`mutex`) or under a
// plain pthread mutex (`pthread`). Both end at exactly 400,000: the lock works. Built with
// `-sanitize=thread`, only the `Mutex` run is reported ("Swift access race" in the `withLock` closure).
//
// On Linux `Mutex` is a futex lock: the uncontended lock and unlock are compare-exchanges inlined into the
// caller (instrumented, so TSan sees them), but a contended lock or unlock goes to `_lockSlow` / `_unlockSlow`
// in libswiftSynchronization.so (FUTEX_LOCK_PI / FUTEX_UNLOCK_PI, not instrumented, not intercepted). TSan
// never sees the hand-over between the two threads, and reports the protected accesses as a race.
// pthread_mutex_lock is intercepted by TSan, so the pthread run is clean.
//
// Run: swiftc -sanitize=thread -g mutex-tsan.swift -o /tmp/mutex-tsan-check && /tmp/mutex-tsan-check mutex && /tmp/mutex-tsan-check pthread
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

final class PthreadBox: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    var value = 0
    init() { pthread_mutex_init(&mutex, nil) }
    func add() {
        pthread_mutex_lock(&mutex)
        value += 1
        pthread_mutex_unlock(&mutex)
    }
}

final class MutexBox: Sendable {
    let value = Mutex<Int>(0)
    func add() { value.withLock { $0 += 1 } }
}

let useMutex = CommandLine.arguments.dropFirst().first != "pthread"
let mutexBox = MutexBox()
let pthreadBox = PthreadBox()
var threads: [pthread_t] = []
for _ in 0..<2 {
    var thread = pthread_t()
    pthread_create(&thread, nil, { _ in
        for _ in 0..<200_000 { if useMutex { mutexBox.add() } else { pthreadBox.add() } }
        return nil
    }, nil)
    threads.append(thread)
}
for thread in threads { pthread_join(thread, nil) }
print(useMutex ? "Mutex: \(mutexBox.value.withLock { $0 })" : "pthread mutex: \(pthreadBox.value)")
