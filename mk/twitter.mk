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

# Twitter II (Borth et al. 2013) with its 5 official partitions and each image's tweet text: the book's
# chapter "Words on real photographs". TWITTER2 holds partition1..5/ (<id>.jpg, <id>_<hashtag>.txt) and
# groundTruthLabel.txt; ONTOLOGY (mk/book.mk) is VSO's 3244ANPs.txt, whose adjectives are looked for in
# the texts. The schedule is Twitter I's, unchanged. Two protocols: the classes balanced in training and
# validation (the paper trains on balanced data; the test partitions stay as released), the main one,
# and the partitions as they are (78% positive), beside it.
#   make twitter2 TWITTER2=/path/to/twitter_II            every variant x partition x seed, both protocols
#                                                          (twitter2-balanced, then twitter2-released)
#   make twitter2-weighting TWITTER2=...                   the text weighting, chosen on validation (text-only)
#   make twitter2-finetune TWITTER2=...                    block 5 fine-tuned, balanced protocol, seed 0: gap and
#                                                          the word-steered variant better on validation
TWITTER2 ?= ../shared/data/twitter_II
TWITTER2_RESULTS := results/twitter2
TWITTER2_DATA := --dataset twitter2 --data-root $(TWITTER2) --ontology $(ONTOLOGY) $(TWITTER_SCHEDULE) \
	--results-dir $(TWITTER2_RESULTS)
TWITTER2_BALANCED := $(TWITTER2_DATA) --balance oversample --balance-splits train val
# The variants whose query reads the text's weighting get it; the others are run without the flag, so a
# weighting never retrains a run that does not read it.
TWITTER2_VARIANTS := gap attention-learned linear-probe attention-vso-adjective vso-adjective-only
TWITTER2_TEXT_VARIANTS := attention-text attention-text-shuffled text-only
# The plain mean: it beat idf on validation (make twitter2-weighting; the chapter shows the comparison).
TWITTER2_WEIGHTING ?= mean
TWITTER2_FT_SEEDS ?= 0
TWITTER2_FT_VARIANTS ?= gap attention-vso-adjective

.PHONY: twitter2 twitter2-balanced twitter2-released twitter2-weighting twitter2-finetune

twitter2-weighting: $(STAMP)
	$(VISENT) cv $(TWITTER2_BALANCED) --variants text-only --text-weighting idf --seeds 0
	$(VISENT) cv $(TWITTER2_BALANCED) --variants text-only --text-weighting mean --seeds 0

twitter2: twitter2-balanced twitter2-released
	$(MAKE) book-includes

twitter2-balanced: $(STAMP)
	$(VISENT) cv $(TWITTER2_BALANCED) --variants $(TWITTER2_VARIANTS) --seeds 0 1 2
	$(VISENT) cv $(TWITTER2_BALANCED) --variants $(TWITTER2_TEXT_VARIANTS) --text-weighting $(TWITTER2_WEIGHTING) --seeds 0 1 2

twitter2-released: $(STAMP)
	$(VISENT) cv $(TWITTER2_DATA) --variants $(TWITTER2_VARIANTS) --seeds 0 1 2
	$(VISENT) cv $(TWITTER2_DATA) --variants $(TWITTER2_TEXT_VARIANTS) --text-weighting $(TWITTER2_WEIGHTING) --seeds 0 1 2

twitter2-finetune: $(STAMP)
	$(VISENT) cv $(TWITTER2_BALANCED) --finetune conv5 --variants $(TWITTER2_FT_VARIANTS) \
		--text-weighting $(TWITTER2_WEIGHTING) --seeds $(TWITTER2_FT_SEEDS)
	$(MAKE) book-includes
