;; hello.lisp: a tour of minivm.

(print "hello from minivm")

;; Closures and tail calls: `loop` runs a million iterations in constant stack.
(define (sum-to n)
  (define (loop i acc)
    (if (> i n) acc (loop (+ i 1) (+ acc i))))
  (loop 1 0))
(print "sum 1..1000000 = " (sum-to 1000000))

;; Deep (non-tail) recursion: a few thousand frames are fine.
(define (depth n) (if (= n 0) 0 (+ 1 (depth (- n 1)))))
(print "recursion depth " (depth 5000))

;; Data: lists, vectors, dictionaries, strings, symbols.
(define v (make-vector 3 0))
(vector-set! v 1 'one)
(define d (make-dict))
(dict-set! d 'list (map (lambda (x) (* x x)) '(1 2 3 4)))
(dict-set! d "vector" v)
(print "dict: " d)

;; Threads share objects: two threads each add their part of a shared vector.
(define shared (list->vector '(1 2 3 4 5 6 7 8)))
(define (sum-range from to)
  (let ((acc 0) (i from))
    (while (< i to)
      (set! acc (+ acc (vector-ref shared i)))
      (set! i (+ i 1)))
    acc))
(define t1 (spawn sum-range 0 4))
(define t2 (spawn sum-range 4 8))
(print "threads: " (join t1) " + " (join t2))

;; The collector, as the program sees it.
(define before (gc-count))
(print "gc enabled: " (gc-enabled?) ", threshold " (gc-threshold))
(print "collected " (gc-collect) " objects; last collection found "
       (dict-ref (gc-stats) 'objects) " objects in the heap")
(print "frozen " (gc-freeze) " objects; " (gc-freeze-count) " frozen")
(print "unfrozen " (gc-unfreeze))
