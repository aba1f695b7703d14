"""The SynthHAR renderer: one seeded random generator in, one scene out (image, person label map, records).

:func:`.scene.render_scene` is the entry point; :mod:`harlearn.data.synthhar.build` calls it
once per image and writes what it returns in the datasets' layouts. The parts:

- :mod:`.canvas`: drawing primitives and the rasteriser (image + person label map);
- :mod:`.figure`: the articulated person (17 COCO keypoints, posed in 3D by inverse kinematics);
- :mod:`.objects`: bike, horse, dog, guitar, book, phone, camera, laptop, pen, table, chair;
- :mod:`.actions`: the 16 classes as pose + person-object relation, bystanders, class metadata;
- :mod:`.scene`: backgrounds, clutter, distractors, layout on a ground plane, final render.

Moved here from ``harlearn.data.synth`` (issue 12), unchanged; that path re-exports these
modules. The renderer knows nothing about files, folders or datasets.
"""
