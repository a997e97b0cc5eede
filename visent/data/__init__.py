"""The data layer: reading images (:mod:`~visent.data.images`), indexing dataset layouts
(:mod:`~visent.data.layouts`), the dataset table (:mod:`~visent.data.table`), splits, folds,
balancing and augmentation; the synthetic scene generator is :mod:`visent.data.synth`. Each is
imported from its own module."""
