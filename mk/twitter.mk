# Twitter I (You et al. 2015) with the published 5-fold splits of Campos et al. (2017): the book's
# "On real photographs" chapter. Included from the top-level Makefile, which defines VISENT and STAMP.
#   make twitter TWITTER=/path/to/twitter_I   every subset x variant x seed x fold, then the book's snippets
#   make twitter-finetune TWITTER=...          block 5 fine-tuned: 5-agree, gap and attention-learned, then the snippets
# TWITTER holds images/, twitter_{five,four,three}_agrees.txt and folds/<subset>_agrees/test<k>/.
# Runs whose result file exists with the same configuration are reused; --force in TWITTER_CV reruns all.

TWITTER ?= ../shared/data/twitter_I
TWITTER_RESULTS := results/twitter
# One epoch is 20 SGD steps of 32 images (640 images: about one pass over a five-agree training
# fold); early stopping on the fold's validation part, at most 30 epochs.
TWITTER_SCHEDULE := --preset cpu --iterations-per-epoch 20 --max-epochs 30 --patience 5
TWITTER_CV := --dataset twitter --data-root $(TWITTER) --folds $(TWITTER)/folds $(TWITTER_SCHEDULE) \
	--results-dir $(TWITTER_RESULTS) --subsets five four three \
	--variants linear-probe gap attention-learned --seeds 0 1 2

# Fine-tuned (--finetune conv5: a pool4 cache, conv5_1..conv5_3 trained with the head at 0.1 x lr) on
# the frozen rows' schedule, so that each fine-tuned run differs from its frozen twin in one thing.
# About 10 minutes per run on 2 cores (a step runs block 5 forward and backward), so one seed by default.
TWITTER_FT_SEEDS ?= 0
TWITTER_FT := --dataset twitter --data-root $(TWITTER) --folds $(TWITTER)/folds $(TWITTER_SCHEDULE) \
	--results-dir $(TWITTER_RESULTS) --finetune conv5 --subsets five \
	--variants gap attention-learned --seeds $(TWITTER_FT_SEEDS)

.PHONY: twitter twitter-finetune

twitter: $(STAMP)
	$(VISENT) cv $(TWITTER_CV)
	$(MAKE) book-includes

twitter-finetune: $(STAMP)
	$(VISENT) cv $(TWITTER_FT)
	$(MAKE) book-includes
