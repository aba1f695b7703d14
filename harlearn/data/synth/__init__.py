"""The SynthHAR generator's parts (see :mod:`harlearn.data.synthhar` for the dataset itself).

- :mod:`.canvas`: drawing primitives and the rasteriser (image + person label map);
- :mod:`.figure`: the articulated person (17 COCO keypoints, posed in 3D by inverse kinematics);
- :mod:`.objects`: bike, horse, dog, guitar, book, phone, camera, laptop, pen, table, chair;
- :mod:`.actions`: the 16 classes as pose + person-object relation, bystanders, class metadata;
- :mod:`.scene`: backgrounds, clutter, distractors, layout on a ground plane, final render.
"""
