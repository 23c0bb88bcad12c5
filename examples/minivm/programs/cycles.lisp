;; cycles.lisp: garbage cycles made of closures, which only the cycle collector can free.
;;
;;   minivm cycles.lisp [N]        (default N = 1000)
;;
;; Reference counting frees everything acyclic the moment its last reference goes. A closure
;; defined inside a function is different: its frame holds the closure (the `define`d
;; variable) and the closure holds its frame (to see the variables), so the pair keeps
;; itself alive after the call returns. The same happens when closures are stored in a table
;; that they themselves reference. This program makes N of each kind, drops them, and shows
;; `(gc-collect)` reclaiming exactly them.
;;
;; Automatic collection is off while it runs, so that the explicit collections are the only
;; ones and the counts are exact.

(define n (let ((args (command-line)))
            (if (null? args) 1000 (string->number (car args)))))

(gc-disable)
(gc-collect)                            ; start from a clean heap

;; A counter: `next` is defined in make-counter's frame and captures that frame, so frame and
;; closure reference each other. Garbage: 2 objects (the frame, the closure).
(define (make-counter)
  (define count 0)
  (define (next)
    (set! count (+ count 1))
    count)
  next)

;; Mutually recursive closures found through a dict that their frame references:
;; frame -> dict -> closures -> frame. Garbage: 4 objects (the frame, the dict, two closures).
(define (make-parity)
  (define table (make-dict))
  (dict-set! table 'even? (lambda (k) (if (= k 0) #t ((dict-ref table 'odd?) (- k 1)))))
  (dict-set! table 'odd? (lambda (k) (if (= k 0) #f ((dict-ref table 'even?) (- k 1)))))
  table)

;; They work.
(define c (make-counter))
(c)
(c)
(print "a counter counts: " (c))
(define p (make-parity))
(print "parity through the dict: (even? 10) = " ((dict-ref p 'even?) 10)
       ", (odd? 7) = " ((dict-ref p 'odd?) 7))
(set! c nil)
(set! p nil)
(print "dropped the two examples: collected " (gc-collect))

;; N counters, each used once and dropped.
(define i 0)
(while (< i n)
  ((make-counter))
  (set! i (+ i 1)))
(print "made " n " counters and dropped them: " (gc-count) " objects outstanding")
(print "collected " (gc-collect) " objects (" (* 2 n) " expected: frame + closure each)")

;; N parity tables, dropped.
(set! i 0)
(while (< i n)
  ((dict-ref (make-parity) 'even?) 3)
  (set! i (+ i 1)))
(print "made " n " parity tables and dropped them: " (gc-count) " objects outstanding")
(print "collected " (gc-collect) " objects (" (* 4 n) " expected: frame, dict, 2 closures each)")

;; Cycles that are still referenced survive: keep every tenth counter in a vector.
(define kept (make-vector 0))
(set! i 0)
(while (< i n)
  (let ((counter (make-counter)))
    (counter)
    (when (= (remainder i 10) 0) (vector-push! kept counter)))
  (set! i (+ i 1)))
(print "kept " (vector-length kept) " of " n " counters: collected " (gc-collect)
       " objects (" (* 2 (- n (vector-length kept))) " expected)")
(print "a kept counter still counts: " ((vector-ref kept 0)))
(set! kept nil)
(print "dropped the vector: collected " (gc-collect) " objects")

;; Debugging, as with Python's gc module: who references an object, and garbage kept for
;; inspection instead of freed.
(define shared (make-vector 0))
(define holder (make-vector 0))
(vector-push! holder shared)
(print "referrers of a shared vector: " (gc-referrer-count shared)
       " (its global cell and the holder)")
(print "the holder references " (gc-referent-count holder) " object; tracked: "
       (gc-tracked? holder) ", a string: " (gc-tracked? "text"))
(gc-watch)
(gc-saveall #t)
(let ((counter (make-counter))) (counter))
(gc-collect)
(gc-saveall #f)
(print "save-all kept " (gc-take-garbage) " objects of a dropped counter")
(print "the watch callback saw " (dict-ref (gc-watched) 'collections) " collection(s)")

;; Finalizers: a guard in a cycle runs its thunk once a collection finds the cycle garbage,
;; before anything in it is destroyed; the next pass then frees the cycle.
(define finalized 0)
(let ((v (make-vector 0)))
  (vector-push! v (make-guard (lambda () (set! finalized (+ finalized 1))) v)))
(define freed (gc-collect))
(print "a guard in a dropped cycle: finalizer ran " finalized " time(s), "
       (dict-ref (gc-stats) 'finalized) " finalized, " freed " freed in "
       (dict-ref (gc-stats) 'passes) " passes")

(gc-enable)
(define stats (gc-stats))
(print "last collection: " (dict-ref stats 'objects) " objects walked, "
       (dict-ref stats 'collected) " collected")
